using IocEdge.Testing;

namespace IocEdge.Edge.Tests;

/// <summary>
/// Issue 16 "Packaging" and "systemd": build-deb.sh makes the iocedge-gateway and iocedge-aggregator .debs, dpkg
/// installs them into a scratch root (dpkg --root with --force-script-chrootless, so the maintainer scripts run against
/// DPKG_ROOT), and the result is checked as an administrator would find it: binaries, units, config skeletons as
/// conffiles readable by the service group only, the iocedge user in gpio/dialout/i2c, data directories owned by it;
/// `systemd-analyze verify` says nothing; an upgrade keeps an edited config and the data; remove keeps the data and
/// only purge deletes it. The publish folders are small stand-ins here (the packaging is under test, not the build);
/// IOCEDGE_AOT_TESTS=1 runs <see cref="The_real_amd64_packages_build_and_install"/> with the real builds.
/// </summary>
[Trait(Traits.Category, Traits.Integration)]
[Trait(Traits.Acceptance, "technician")]
public sealed class PackagingTests : IDisposable
{
    private static readonly string Repo = RepositoryRoot.Path;
    private static readonly string BuildDeb = Path.Combine(Repo, "edge/IocEdge.Gateway/packaging/build-deb.sh");
    private readonly TempDirectory _dir = new("deb");

    public void Dispose() => _dir.Dispose();

    [RootFact]
    public async Task The_packages_install_into_a_scratch_root_verify_clean_keep_config_on_upgrade_and_delete_data_only_on_purge()
    {
        var gw = Stub("gw", "iocedge-gateway");
        var ag = Stub("ag", "iocedge-aggregator");
        var out1 = _dir.File("out1");
        await Run("bash", BuildDeb, "--gateway-from", gw, "--aggregator-from", ag, "--version", "1.0", "-o", out1);
        var root = NewRoot();

        await Dpkg(root, "-i", Path.Combine(out1, "iocedge-gateway_1.0_amd64.deb"), Path.Combine(out1, "iocedge-aggregator_1.0_amd64.deb"));

        var uid = Field(root, "etc/passwd", "iocedge", 2);
        var gid = Field(root, "etc/group", "iocedge", 2);
        Assert.Equal("/usr/sbin/nologin", Field(root, "etc/passwd", "iocedge", 6));
        foreach (var g in new[] { "gpio", "dialout", "i2c" })
        {
            Assert.Contains("iocedge", Field(root, "etc/group", g, 3).Split(','));
        }

        Assert.Equal("0:0:755", await Stat(root, "usr/lib/iocedge/gateway/iocedge-gateway"));
        Assert.Equal("0:0:755", await Stat(root, "usr/lib/iocedge/aggregator/iocedge-aggregator"));
        Assert.Equal("/usr/lib/iocedge/gateway/iocedge-gateway", new FileInfo(Path.Combine(root, "usr/bin/iocedge-gateway")).LinkTarget);
        // The publish folder minus debug symbols and XML documentation; everything else (native libraries, data) kept.
        Assert.True(File.Exists(Path.Combine(root, "usr/lib/iocedge/gateway/libe_sqlite3.so")));
        Assert.True(File.Exists(Path.Combine(root, "usr/lib/iocedge/gateway/profiles/env-station.xml")));
        Assert.False(File.Exists(Path.Combine(root, "usr/lib/iocedge/gateway/iocedge-gateway.dbg")));
        Assert.False(File.Exists(Path.Combine(root, "usr/lib/iocedge/gateway/IocEdge.Edge.xml")));
        Assert.Equal("0:0:644", await Stat(root, "lib/systemd/system/iocedge-gateway.service"));
        Assert.Equal($"0:{gid}:640", await Stat(root, "etc/iocedge/gateway.json")); // holds the MQTT password
        Assert.Equal($"0:{gid}:640", await Stat(root, "etc/iocedge/aggregator.json"));
        Assert.Equal($"{uid}:{gid}:750", await Stat(root, "var/lib/iocedge-gateway"));
        Assert.Equal($"{uid}:{gid}:750", await Stat(root, "var/lib/iocedge-aggregator"));
        Assert.Contains("/etc/iocedge/gateway.json", await Run("dpkg-query", $"--admindir={root}/var/lib/dpkg", "-W", "-f=${Conffiles}", "iocedge-gateway"));
        Assert.Contains("/etc/iocedge/aggregator.json", await Run("dpkg-query", $"--admindir={root}/var/lib/dpkg", "-W", "-f=${Conffiles}", "iocedge-aggregator"));

        // systemd-analyze verify exits 0 even on bad values (PEERS.md): its stderr must be empty. The root needs the
        // host's targets (sysinit.target...) for the dependency check.
        foreach (var target in Directory.EnumerateFiles("/lib/systemd/system", "*.target"))
        {
            File.Copy(target, Path.Combine(root, "lib/systemd/system", Path.GetFileName(target)), overwrite: true);
        }

        var (_, _, verifyErr) = await RunFull("systemd-analyze", "verify", $"--root={root}", "iocedge-gateway.service", "iocedge-aggregator.service");
        Assert.Equal(string.Empty, verifyErr.Trim());

        // An administrator's edit and the gateway's data survive an upgrade.
        var config = Path.Combine(root, "etc/iocedge/gateway.json");
        await File.WriteAllTextAsync(config, (await File.ReadAllTextAsync(config)).Replace("gw-CHANGE-ME", "gw-pole-17", StringComparison.Ordinal));
        await File.WriteAllTextAsync(Path.Combine(root, "var/lib/iocedge-gateway/outbox.db"), "readings");
        var out2 = _dir.File("out2");
        await Run("bash", BuildDeb, "--gateway-from", gw, "--aggregator-from", ag, "--version", "1.1", "-o", out2);
        await Dpkg(root, "-i", Path.Combine(out2, "iocedge-gateway_1.1_amd64.deb"));
        Assert.Equal("1.1", await Run("dpkg-query", $"--admindir={root}/var/lib/dpkg", "-W", "-f=${Version}", "iocedge-gateway"));
        Assert.Contains("gw-pole-17", await File.ReadAllTextAsync(config), StringComparison.Ordinal);
        Assert.Equal("readings", await File.ReadAllTextAsync(Path.Combine(root, "var/lib/iocedge-gateway/outbox.db")));

        // Remove keeps data and config; purge deletes them.
        await Dpkg(root, "-r", "iocedge-gateway");
        Assert.False(File.Exists(Path.Combine(root, "usr/lib/iocedge/gateway/iocedge-gateway")));
        Assert.True(File.Exists(Path.Combine(root, "var/lib/iocedge-gateway/outbox.db")), "remove keeps the outbox");
        Assert.True(File.Exists(config), "remove keeps the configuration");
        await Dpkg(root, "-P", "iocedge-gateway");
        Assert.False(Directory.Exists(Path.Combine(root, "var/lib/iocedge-gateway")), "purge deletes the data");
        Assert.False(File.Exists(config), "purge deletes the configuration");
        Assert.True(Directory.Exists(Path.Combine(root, "var/lib/iocedge-aggregator")), "the other package's data is untouched");
    }

    [Fact]
    public async Task The_armhf_gateway_package_is_framework_dependent_with_arm32_native_libraries_and_a_launcher()
    {
        // No linux-arm runtime pack on the mirror: armhf gets the portable build, started through dotnet-runtime-10.0.
        var out1 = _dir.File("out");
        await Run("bash", [BuildDeb, "--arch", "armhf", "--package", "gateway", "--version", "1.0", "-o", out1], TimeSpan.FromMinutes(15));
        var deb = Path.Combine(out1, "iocedge-gateway_1.0_armhf.deb");
        var control = await Run("dpkg-deb", "-f", deb);
        Assert.Contains("Architecture: armhf", control, StringComparison.Ordinal);
        Assert.Contains("dotnet-runtime-10.0", control, StringComparison.Ordinal);
        var root = Directory.CreateDirectory(_dir.File("armhf-root")).FullName;
        await Run("dpkg-deb", "-x", deb, root);
        var lib = Path.Combine(root, "usr/lib/iocedge/gateway");

        // The launcher execs the runtime on the same PID (systemd's notify socket and watchdog see the service).
        Assert.Contains("exec dotnet /usr/lib/iocedge/gateway/iocedge-gateway.dll", await File.ReadAllTextAsync(Path.Combine(lib, "iocedge-gateway")), StringComparison.Ordinal);
        // ELF header: EI_CLASS 1 = 32-bit, e_machine 40 = ARM (System V ABI, ELF for the Arm Architecture §5).
        foreach (var native in new[] { "libe_sqlite3.so", "libSystem.IO.Ports.Native.so" })
        {
            var header = File.ReadAllBytes(Path.Combine(lib, "runtimes/linux-arm/native", native)).AsSpan(0, 20).ToArray();
            Assert.True(header[4] == 1 && BitConverter.ToUInt16(header, 18) == 40, $"{native} is not a 32-bit ARM ELF file");
        }

        Assert.False(Directory.Exists(Path.Combine(lib, "runtimes/linux-x64")), "only the linux-arm native libraries are packaged");
        // The IL is complete: this machine's runtime starts the packaged gateway.
        Assert.Contains("Usage: iocedge-gateway", await Run("dotnet", Path.Combine(lib, "iocedge-gateway.dll"), "--help"));
    }

    [AotFact]
    public async Task The_real_amd64_packages_build_and_install()
    {
        var out1 = _dir.File("out");
        await Run("bash", [BuildDeb, "--version", "1.0", "-o", out1], TimeSpan.FromMinutes(30));
        var root = NewRoot();
        await Dpkg(root, "-i", Path.Combine(out1, "iocedge-gateway_1.0_amd64.deb"), Path.Combine(out1, "iocedge-aggregator_1.0_amd64.deb"));
        Assert.Contains("Usage: iocedge-gateway", await Run(Path.Combine(root, "usr/lib/iocedge/gateway/iocedge-gateway"), "--help"));
        Assert.Contains("Usage: iocedge-aggregator", await Run(Path.Combine(root, "usr/lib/iocedge/aggregator/iocedge-aggregator"), "--help"));
    }

    private string Stub(string name, string exe)
    {
        var dir = Directory.CreateDirectory(_dir.File(name)).FullName;
        var path = Path.Combine(dir, exe);
        File.WriteAllText(path, "#!/bin/sh\necho stand-in\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        File.WriteAllText(Path.Combine(dir, "libe_sqlite3.so"), "stand-in");
        File.WriteAllText(Path.Combine(dir, exe + ".dbg"), "debug symbols: left out of the package");
        File.WriteAllText(Path.Combine(dir, "IocEdge.Edge.xml"), "<?xml version=\"1.0\"?>\n<doc>\n</doc>\n"); // left out too
        Directory.CreateDirectory(Path.Combine(dir, "profiles"));
        File.WriteAllText(Path.Combine(dir, "profiles", "env-station.xml"), "<profile/>"); // data: kept
        return dir;
    }

    /// <summary>An empty Debian-like root: dpkg's database and the account files useradd --prefix edits.</summary>
    private string NewRoot()
    {
        var root = Directory.CreateDirectory(_dir.File("root")).FullName;
        Directory.CreateDirectory(Path.Combine(root, "var/lib/dpkg/updates"));
        Directory.CreateDirectory(Path.Combine(root, "var/lib/dpkg/info"));
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.WriteAllText(Path.Combine(root, "var/lib/dpkg/status"), string.Empty);
        File.WriteAllText(Path.Combine(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
        File.WriteAllText(Path.Combine(root, "etc/group"), "root:x:0:\n");
        File.WriteAllText(Path.Combine(root, "etc/shadow"), string.Empty);
        File.WriteAllText(Path.Combine(root, "etc/gshadow"), string.Empty);
        return root;
    }

    private static Task<string> Dpkg(string root, params string[] args) =>
        Run("dpkg", [$"--root={root}", "--force-script-chrootless", "--force-depends", "--force-confdef", "--force-confold", .. args]);

    private static string Field(string root, string file, string name, int index) =>
        File.ReadAllLines(Path.Combine(root, file)).Select(l => l.Split(':')).Single(f => f[0] == name)[index];

    private static async Task<string> Stat(string root, string path) =>
        (await Run("stat", "-c", "%u:%g:%a", Path.Combine(root, path))).Trim();

    private static Task<string> Run(string file, params string[] args) => Run(file, args, TimeSpan.FromMinutes(2));

    private static async Task<string> Run(string file, string[] args, TimeSpan timeout)
    {
        var (code, stdout, stderr) = await RunFull(file, args, timeout);
        Assert.True(code == 0, $"{file} {string.Join(' ', args)} exited {code}:\n{stdout}\n{stderr}");
        return stdout;
    }

    private static Task<(int Code, string Out, string Err)> RunFull(string file, params string[] args) => RunFull(file, args, TimeSpan.FromMinutes(2));

    private static async Task<(int Code, string Out, string Err)> RunFull(string file, string[] args, TimeSpan timeout)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await stdout, await stderr);
    }
}

/// <summary>Runs only as root (dpkg --root chowns files to the iocedge user inside the scratch root).</summary>
internal sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (Environment.UserName != "root")
        {
            Skip = "dpkg --root and chown need root";
        }
    }
}

/// <summary>Runs only when <paramref name="path"/> does not exist on this machine (a default configuration file).</summary>
internal sealed class AbsentFileFactAttribute : FactAttribute
{
    public AbsentFileFactAttribute(string path)
    {
        if (File.Exists(path))
        {
            Skip = $"this machine has {path}";
        }
    }
}
