using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using Xunit;

namespace Tributary.Testing;

/// <summary>
/// A throwaway real PostgreSQL server for tests: a fresh cluster in its own temporary folder, listening on a free
/// loopback port, with a superuser <c>tributary</c> (trust authentication) and a database <c>tributary</c>.
/// </summary>
/// <remarks>
/// The server binaries come from <c>/usr/lib/postgresql/VERSION/bin</c> (Debian's <c>postgresql</c> package; CI's
/// <c>.ci/run</c> installs it). <c>initdb</c> and <c>postgres</c> refuse to run as root, so when the tests run as root
/// they run as the <c>postgres</c> OS user (<c>runuser -u postgres --</c>) and the temporary folder belongs to it.
/// Every server has its own folder and port, so several test assemblies can run servers side by side. Only the server
/// this fixture started is ever stopped, through <c>pg_ctl</c> on its own data folder.
/// </remarks>
public sealed class PostgresServer : IAsyncLifetime
{
    /// <summary>The superuser every connection logs in as.</summary>
    public const string User = "tributary";

    /// <summary>The database created with the cluster, used by <see cref="ConnectionString"/> by default.</summary>
    public const string DefaultDatabase = "tributary";

    private const string OsUser = "postgres";
    private const string BinariesRoot = "/usr/lib/postgresql";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    private readonly bool runAsPostgres = Environment.IsPrivilegedProcess;
    private string binDirectory = "";
    private string directory = "";
    private bool running;

    /// <summary>The loopback TCP port the server listens on (the same after <see cref="StartAsync"/>).</summary>
    public int Port { get; private set; }

    /// <summary>The cluster's data folder (kept by <see cref="StopAsync"/>, deleted on dispose).</summary>
    public string DataDirectory => Path.Combine(directory, "data");

    /// <summary>The server's log file.</summary>
    public string LogFile => Path.Combine(directory, "server.log");

    private string SocketDirectory => Path.Combine(directory, "sockets");

    /// <summary>A connection string for <paramref name="database"/> on this server (pooling as Npgsql's default).</summary>
    public string ConnectionString(string database = DefaultDatabase) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = User,
        Database = database,
    }.ConnectionString;

    /// <summary>Creates the cluster, starts the server and creates the <c>tributary</c> database.</summary>
    public async Task InitializeAsync()
    {
        binDirectory = FindBinaries();
        directory = TestPaths.NewTempDirectory();
        try
        {
            Directory.CreateDirectory(SocketDirectory);
            if (runAsPostgres)
            {
                MakeAncestorsTraversable(directory);
                await RunAsync("chown", ["-R", $"{OsUser}:{OsUser}", directory]);
            }

            // --no-sync: the cluster is thrown away, so initdb need not wait for the disk.
            await RunToolAsync("initdb", ["-D", DataDirectory, "--auth=trust", $"--username={User}", "--encoding=UTF8", "--locale=C", "--no-sync"]);

            // Two test assemblies may pick the same free port at the same moment: retry with another one.
            for (var attempt = 1; ; attempt++)
            {
                Port = TestPaths.FreePort();
                try
                {
                    await StartAsync();
                    break;
                }
                catch (InvalidOperationException) when (attempt < 5 && ReadLog().Contains("could not bind", StringComparison.Ordinal))
                {
                }
            }

            await ExecuteAsync(ConnectionString("postgres"), $"CREATE DATABASE {QuoteIdentifier(DefaultDatabase)}");
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the (stopped) server again on the same port and data folder.</summary>
    public async Task StartAsync()
    {
        if (running)
        {
            return;
        }

        // fsync=off: the data is thrown away after the tests, so durability does not matter and tests run faster.
        var options = string.Join(
            ' ',
            "-c listen_addresses=127.0.0.1",
            $"-c port={Port.ToString(CultureInfo.InvariantCulture)}",
            $"-c unix_socket_directories='{SocketDirectory}'",
            "-c fsync=off",
            "-c max_connections=200",
            "-c shared_buffers=64MB");
        await RunToolAsync("pg_ctl", ["start", "-w", "-t", "60", "-D", DataDirectory, "-l", LogFile, "-o", options]);
        running = true;
    }

    /// <summary>Stops the server (<c>pg_ctl stop -m fast</c>) but keeps its data, to simulate an outage.</summary>
    /// <remarks>Idle pooled connections to it are broken afterwards: Npgsql notices only when they are next used.</remarks>
    public async Task StopAsync()
    {
        if (!running)
        {
            return;
        }

        await RunToolAsync("pg_ctl", ["stop", "-w", "-t", "60", "-m", "fast", "-D", DataDirectory]);
        running = false;
    }

    /// <summary>Creates a fresh empty database (a unique name when <paramref name="name"/> is null) and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string? name = null)
    {
        name ??= "test_" + Guid.NewGuid().ToString("N");
        await ExecuteAsync(ConnectionString("postgres"), $"CREATE DATABASE {QuoteIdentifier(name)}");
        return ConnectionString(name);
    }

    /// <summary>Runs a script of one or more statements on a new unpooled connection.</summary>
    public async Task ExecuteAsync(string connectionString, string sql)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = (int)CommandTimeout.TotalSeconds };
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Stops the server (<c>pg_ctl stop -m immediate</c>) and deletes its temporary folder.</summary>
    public async Task DisposeAsync()
    {
        if (directory.Length == 0)
        {
            return;
        }

        if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            try
            {
                await RunToolAsync("pg_ctl", ["stop", "-w", "-t", "60", "-m", "immediate", "-D", DataDirectory]);
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException)
            {
                // Not running (any more): nothing to stop.
            }
        }

        running = false;
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover temporary folder is harmless.
        }

        directory = "";
    }

    /// <summary>The newest <c>/usr/lib/postgresql/VERSION/bin</c> that holds initdb, pg_ctl and postgres.</summary>
    private static string FindBinaries()
    {
        var candidates = Directory.Exists(BinariesRoot) ? Directory.GetDirectories(BinariesRoot) : [];
        var bin = candidates
            .Select(dir => (Version: ParseVersion(Path.GetFileName(dir)), Bin: Path.Combine(dir, "bin")))
            .Where(c => c.Version is not null && new[] { "initdb", "pg_ctl", "postgres" }.All(tool => File.Exists(Path.Combine(c.Bin, tool))))
            .OrderByDescending(c => c.Version)
            .Select(c => c.Bin)
            .FirstOrDefault();
        return bin ?? throw new InvalidOperationException(
            "PostgreSQL server binaries not found: install them with 'apt-get install -y postgresql' (CI's .ci/run does)");
    }

    /// <summary>A folder name such as <c>15</c> or <c>9.6</c> as a version; null when it is not one.</summary>
    private static Version? ParseVersion(string name) =>
        Version.TryParse(name.Contains('.', StringComparison.Ordinal) ? name : name + ".0", out var version) ? version : null;

    /// <summary>Lets the <c>postgres</c> user reach <paramref name="path"/> through the shared temporary folders above it.</summary>
    private static void MakeAncestorsTraversable(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var tempRoot = Path.TrimEndingDirectorySeparator(Path.GetTempPath());
        for (var dir = Directory.GetParent(path); dir is not null && dir.FullName.StartsWith(tempRoot, StringComparison.Ordinal); dir = dir.Parent)
        {
            var mode = File.GetUnixFileMode(dir.FullName);
            if (!mode.HasFlag(UnixFileMode.OtherExecute))
            {
                File.SetUnixFileMode(dir.FullName, mode | UnixFileMode.OtherExecute);
            }
        }
    }

    private static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private string ReadLog()
    {
        try
        {
            return File.ReadAllText(LogFile);
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Runs a PostgreSQL program from <see cref="binDirectory"/>, as the <c>postgres</c> user when we are root.</summary>
    private Task RunToolAsync(string tool, IReadOnlyList<string> arguments)
    {
        var program = Path.Combine(binDirectory, tool);
        return runAsPostgres
            ? RunAsync(File.Exists("/usr/sbin/runuser") ? "/usr/sbin/runuser" : "runuser", ["-u", OsUser, "--", program, .. arguments])
            : RunAsync(program, arguments);
    }

    private async Task RunAsync(string fileName, IReadOnlyList<string> arguments)
    {
        // Variables such as PGDATA or PGPORT from the caller must not redirect the tools to another cluster.
        var environment = new Dictionary<string, string?> { ["PGDATA"] = null, ["PGPORT"] = null, ["PGHOST"] = null };
        using var child = ChildProcess.Start(fileName, arguments, directory, environment: environment);
        var exitCode = await child.WaitForExitAsync(CommandTimeout);
        if (exitCode != 0)
        {
            throw new InvalidOperationException(
                $"{child.CommandLine} failed with exit code {exitCode}\nstdout:\n{child.StandardOutput}\nstderr:\n{child.StandardError}\nserver log ({LogFile}):\n{ReadLog()}");
        }
    }
}
