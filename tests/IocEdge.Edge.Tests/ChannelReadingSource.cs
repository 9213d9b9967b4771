using System.Runtime.CompilerServices;
using System.Threading.Channels;
using IocEdge.Edge.Sampling;
using IocEdge.Protocols.Mqtt;

namespace IocEdge.Edge.Tests;

/// <summary>A reading source the test feeds by hand (stands in for a sensor whose readings the test chooses).</summary>
internal sealed class ChannelReadingSource : IReadingSource
{
    private readonly Channel<IReadOnlyList<Reading>> _channel = Channel.CreateUnbounded<IReadOnlyList<Reading>>();

    public string Name => "test";

    public IReadOnlyList<string> Channels { get; } = ["test/value"];

    public void Push(IReadOnlyList<Reading> readings) => _channel.Writer.TryWrite(readings);

    public async IAsyncEnumerable<IReadOnlyList<Reading>> RunAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var r in _channel.Reader.ReadAllAsync(cancellationToken))
        {
            yield return r;
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
