using System.Globalization;

namespace IocEdge.Testing;

/// <summary>
/// A real PostgreSQL 15 cluster of its own (initdb in a temp folder, pg_ctl on 127.0.0.1 and a free port, trust
/// authentication for loopback), started and stopped by the test that needs it; see ../shared/PEERS.md. Installed by
/// tests/run.sh (apt-get install postgresql; the package starts no cluster). As root, every server command runs as the
/// <c>postgres</c> user (PostgreSQL refuses to run as root).
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private const string Bin = "/usr/lib/postgresql/15/bin/";
    private readonly TempDirectory _dir;
    private readonly bool _durable;
    private int _databases;

    private PostgresServer(TempDirectory dir, int port, bool durable)
    {
        _dir = dir;
        Port = port;
        _durable = durable;
    }

    public int Port { get; }

    /// <summary>The cluster's data folder (PGDATA).</summary>
    public string DataDirectory => _dir.File("data");

    /// <summary>The server's log (what it said at start, stop and on errors).</summary>
    public string Log => File.Exists(_dir.File("server.log")) ? File.ReadAllText(_dir.File("server.log")) : string.Empty;

    /// <summary>A connection string for <paramref name="database"/> as the superuser <c>postgres</c> (no password: trust).</summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Database={database};Username=postgres;Timeout=5;Command Timeout=60";

    /// <param name="durable">
    /// False (tests): fsync and synchronous_commit off, for speed; a crash of the machine may lose the last commits.
    /// True (benchmarks): PostgreSQL's defaults, every commit on disk before it returns.
    /// </param>
    public static async Task<PostgresServer> StartAsync(bool durable = false)
    {
        Tools.Require(Bin + "initdb", "postgresql");
        var dir = new TempDirectory("postgres");
        var server = new PostgresServer(dir, FreePort.Next(), durable);
        try
        {
            if (Environment.UserName == "root")
            {
                // The temp folder is created 0700 for root: hand it to the postgres user.
                await Run("chown", ["-R", "postgres:postgres", dir.Path], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }

            await RunAsPostgres("initdb", ["-D", server.DataDirectory, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
                "--locale=C"], TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            await server.StartAgainAsync().ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts the server (again) on the same port and data, as after an outage; returns once it accepts connections.</summary>
    public async Task StartAgainAsync()
    {
        var options = $"-c listen_addresses=127.0.0.1 -p {Port} -k {_dir.Path} -c max_connections=200 -c shared_buffers=128MB" +
                      (_durable ? string.Empty : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        await RunAsPostgres("pg_ctl", ["-D", DataDirectory, "-l", _dir.File("server.log"), "-o", options, "-w", "-t", "60", "start"],
            TimeSpan.FromSeconds(90)).ConfigureAwait(false);
    }

    /// <summary>Stops the server at once (<c>-m immediate</c>: open connections are cut, as when a database host dies).</summary>
    public async Task StopAsync(bool immediate = true)
    {
        if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            await RunAsPostgres("pg_ctl", ["-D", DataDirectory, "-m", immediate ? "immediate" : "fast", "-w", "-t", "60", "stop"],
                TimeSpan.FromSeconds(90)).ConfigureAwait(false);
        }
    }

    /// <summary>Creates an empty database (a fresh one per test keeps tests apart) and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string? name = null)
    {
        name ??= "t" + Interlocked.Increment(ref _databases).ToString(CultureInfo.InvariantCulture) + "_" + Guid.NewGuid().ToString("N")[..8];
        await RunAsPostgres("psql", ["-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", "postgres", "-d", "postgres",
            "-v", "ON_ERROR_STOP=1", "-q", "-c", $"CREATE DATABASE {name}"], TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        return ConnectionString(name);
    }

    /// <summary>Runs one SQL command with psql in <paramref name="database"/> and returns its unaligned output.</summary>
    public async Task<string> SqlAsync(string database, string sql)
    {
        return await RunAsPostgres("psql", ["-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", "postgres", "-d", database,
            "-v", "ON_ERROR_STOP=1", "-q", "-A", "-t", "-c", sql], TimeSpan.FromSeconds(60)).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            // Still running: end it by its pid (the first line of postmaster.pid).
            var pidFile = Path.Combine(DataDirectory, "postmaster.pid");
            if (File.Exists(pidFile) && int.TryParse(File.ReadLines(pidFile).First(), out var pid))
            {
                await Run("kill", ["-QUIT", pid.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
        }
        finally
        {
            _dir.Dispose();
        }
    }

    private static Task<string> RunAsPostgres(string tool, IEnumerable<string> arguments, TimeSpan timeout) =>
        Environment.UserName == "root"
            ? Run("runuser", ["-u", "postgres", "--", Bin + tool, .. arguments], timeout)
            : Run(Bin + tool, arguments, timeout);

    private static async Task<string> Run(string file, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var list = arguments.ToList();
        var (code, output) = await PeerProcess.RunAsync(file, list, timeout).ConfigureAwait(false);
        if (code != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', list)} exited with {code}:\n{output}");
        }

        return output;
    }
}
