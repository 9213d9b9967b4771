using System.Text;

namespace IocEdge.Devices.Profiles;

/// <summary>One thing wrong with a profile: where (file and JSON path), what, and how to fix it.</summary>
/// <param name="File">The profile file (or "(in-memory profile 'id')").</param>
/// <param name="Path">JSON path of the offending key, e.g. <c>$.points[2].unit</c>.</param>
/// <param name="Message">What is wrong.</param>
/// <param name="Fix">What to change.</param>
public sealed record ProfileProblem(string File, string Path, string Message, string Fix)
{
    public override string ToString() => $"{File}: {Path}: {Message} Fix: {Fix}";
}

/// <summary>A profile (or a directory of profiles) was refused; <see cref="Problems"/> lists every problem found.</summary>
public sealed class ProfileValidationException : Exception
{
    public ProfileValidationException(IReadOnlyList<ProfileProblem> problems)
        : base(Format(problems))
    {
        Problems = problems;
    }

    public IReadOnlyList<ProfileProblem> Problems { get; }

    private static string Format(IReadOnlyList<ProfileProblem> problems)
    {
        var sb = new StringBuilder();
        sb.Append("Instrument profile refused (").Append(problems.Count).Append(problems.Count == 1 ? " problem" : " problems").Append("):");
        foreach (var p in problems)
        {
            sb.AppendLine().Append("  - ").Append(p);
        }

        return sb.ToString();
    }
}
