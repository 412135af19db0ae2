using System.Globalization;

namespace Tributary.Bench;

/// <summary>Command-line settings of a run.</summary>
internal sealed record BenchOptions
{
    public const string Usage = """
        usage: dotnet run -c Release --project bench/Tributary.Bench -- [options]
          --quick                 smoke run: 1 repetition, 2 s cells, start-up median of 3; writes results/quick.*
          --reps N                repetitions of the whole load matrix (default 3; medians are reported)
          --duration S            measured seconds per cell (default 5)
          --concurrency 1,8,32    in-flight calls per cell
          --http-clients MODE     per-worker (default): one SDK client per worker; shared: one client for all workers
          --transports LIST       stdio,http (default both)
          --workloads LIST        sqlite,postgres,ingest,listeners (default all four): the SQLite demo against
                                  HelloServer, PostgreSQL (1M orders) through Tributary against raw Npgsql in process
                                  (postgres is pg-read (point query, 1000-row result) plus pg-write (update_rows), each
                                  also on its own), topic ingest (durable appends into SqliteEventStore in process at
                                  c=1/8/64/512, and publish_event through Tributary at c=1/8/32), and topic listeners
                                  (publish to notification latency with 1/100/1000 subscriptions/listen requests on one
                                  HTTP server, and its memory per idle listener; about 1 minute)
          --postgres              require the PostgreSQL part (fail when the server binaries are missing)
          --no-postgres           leave the PostgreSQL part out (default: run it when /usr/lib/postgresql/*/bin has
                                  initdb, pg_ctl and postgres, else print a skip line)
          --shapes                also load HelloServer's fixed results shaped like Tributary's (bottleneck analysis)
          --initial-warmup S      seconds of load per server and workload before the first repetition (default 6)
          --protocol VERSION      pin the client's protocol version, e.g. 2025-11-25 (initialize + HTTP session);
                                  default: the SDK client's own choice (2026-07-28, stateless over HTTP)
          --startup-rounds N      spawns per build for the start-up median (default 7)
          --skip-startup, --skip-memory, --skip-publish   leave a part out
          --republish             publish the ReadyToRun and AOT builds again even if src/ is unchanged
          --name NAME             write bench/results/NAME.md and NAME.json (default latest)
          --no-write              print only
        """;

    public int Repetitions { get; init; } = 3;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(0.5);

    public int[] Concurrency { get; init; } = [1, 8, 32];

    public bool HttpClientsPerWorker { get; init; } = true;

    public bool Stdio { get; init; } = true;

    public bool Http { get; init; } = true;

    public bool Shapes { get; init; }

    /// <summary>The SQLite workloads (Tributary's demo data against the HelloServer floor, and the bytes per row).</summary>
    public bool Sqlite { get; init; } = true;

    /// <summary>The topic-ingest workloads (SqliteEventStore in process, publish_event through Tributary).</summary>
    public bool Ingest { get; init; } = true;

    /// <summary>The topic-listener workload (publish → notification latency of 2026-07-28 listen requests, memory per idle listener).</summary>
    public bool Listeners { get; init; } = true;

    /// <summary>The PostgreSQL workloads (Tributary against raw Npgsql).</summary>
    public PostgresMode Postgres { get; init; } = PostgresMode.Auto;

    /// <summary>The PostgreSQL read workloads (point query, 1000-row result), when the PostgreSQL part runs.</summary>
    public bool PgReads { get; init; } = true;

    /// <summary>The PostgreSQL write workload (update_rows), when the PostgreSQL part runs.</summary>
    public bool PgWrites { get; init; } = true;

    public TimeSpan InitialWarmUp { get; init; } = TimeSpan.FromSeconds(6);

    public string? ProtocolVersion { get; init; }

    public int StartupRounds { get; init; } = 7;

    public bool SkipStartup { get; init; }

    public bool SkipMemory { get; init; }

    public bool SkipPublish { get; init; }

    public bool Republish { get; init; }

    public bool Quick { get; init; }

    public string ResultName { get; init; } = "latest";

    public bool Write { get; init; } = true;

    public static BenchOptions? Parse(string[] args)
    {
        var options = new BenchOptions();
        if (args.Contains("--quick"))
        {
            options = options with { Quick = true, Repetitions = 1, Duration = TimeSpan.FromSeconds(2), InitialWarmUp = TimeSpan.FromSeconds(2), StartupRounds = 3, ResultName = "quick" };
        }

        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                options = args[i] switch
                {
                    "--quick" => options,
                    "--reps" => options with { Repetitions = Positive(Next()) },
                    "--duration" => options with { Duration = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) },
                    "--concurrency" => options with { Concurrency = [.. Next().Split(',').Select(Positive)] },
                    "--http-clients" => Next() switch
                    {
                        "shared" => options with { HttpClientsPerWorker = false },
                        "per-worker" => options with { HttpClientsPerWorker = true },
                        var other => throw new ArgumentException($"--http-clients: shared or per-worker, not '{other}'"),
                    },
                    "--protocol" => options with { ProtocolVersion = Next() },
                    "--transports" => Next().ToUpperInvariant().Split(',') is var t && t.All(x => x is "STDIO" or "HTTP")
                        ? options with { Stdio = t.Contains("STDIO"), Http = t.Contains("HTTP") }
                        : throw new ArgumentException("--transports: stdio, http or stdio,http"),
                    "--shapes" => options with { Shapes = true },
                    "--workloads" => Next().ToUpperInvariant().Split(',') is var w && w.All(x => x is "SQLITE" or "POSTGRES" or "PG-READ" or "PG-WRITE" or "INGEST" or "LISTENERS")
                        ? options with
                        {
                            Sqlite = w.Contains("SQLITE"),
                            Ingest = w.Contains("INGEST"),
                            Listeners = w.Contains("LISTENERS"),
                            PgReads = w.Contains("POSTGRES") || w.Contains("PG-READ"),
                            PgWrites = w.Contains("POSTGRES") || w.Contains("PG-WRITE"),
                            Postgres = !w.Any(x => x is "POSTGRES" or "PG-READ" or "PG-WRITE") ? PostgresMode.Off : options.Postgres == PostgresMode.Off ? PostgresMode.Auto : options.Postgres,
                        }
                        : throw new ArgumentException("--workloads: a list of sqlite, postgres, pg-read, pg-write, ingest, listeners (postgres = pg-read,pg-write)"),
                    "--postgres" => options with { Postgres = PostgresMode.Required },
                    "--no-postgres" => options with { Postgres = PostgresMode.Off },
                    "--initial-warmup" => options with { InitialWarmUp = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) },
                    "--startup-rounds" => options with { StartupRounds = Positive(Next()) },
                    "--skip-startup" => options with { SkipStartup = true },
                    "--skip-memory" => options with { SkipMemory = true },
                    "--skip-publish" => options with { SkipPublish = true },
                    "--republish" => options with { Republish = true },
                    "--name" => options with { ResultName = Next() },
                    "--no-write" => options with { Write = false },
                    var unknown => throw new ArgumentException($"unknown option '{unknown}'"),
                };
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                Console.Error.WriteLine(e.Message);
                return null;
            }
        }

        return options;
    }

    public string Describe() =>
        $"{Repetitions} repetition(s), {Duration.TotalSeconds:0.#} s cells after {WarmUp.TotalSeconds:0.#} s warm-up ({InitialWarmUp.TotalSeconds:0.#} s per server and workload first), " +
        $"workloads {string.Join(" + ", Workloads())}, " +
        $"concurrency {string.Join('/', Concurrency)}, HTTP clients {(HttpClientsPerWorker ? "one per worker" : "one shared")}, " +
        $"protocol {ProtocolVersion ?? "SDK default (2026-07-28)"}, start-up median of {StartupRounds}";

    private IEnumerable<string> Workloads()
    {
        if (Sqlite)
        {
            yield return "SQLite";
        }

        if (Postgres != PostgresMode.Off)
        {
            yield return (Postgres == PostgresMode.Auto ? "PostgreSQL (if installed)" : "PostgreSQL") + (PgReads && PgWrites ? " reads and writes" : PgReads ? " reads" : " writes");
        }

        if (Ingest)
        {
            yield return "topic ingest";
        }

        if (Listeners)
        {
            yield return "topic listeners";
        }
    }

    private static int Positive(string text) =>
        int.TryParse(text, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : throw new ArgumentException($"expected a positive whole number, got '{text}'");
}

/// <summary>Whether the PostgreSQL part runs.</summary>
internal enum PostgresMode
{
    /// <summary>Run it when the server binaries are installed, else print a skip line (the default).</summary>
    Auto,

    /// <summary>Run it; a missing installation fails the run (<c>--postgres</c>).</summary>
    Required,

    /// <summary>Leave it out (<c>--no-postgres</c>, or <c>--workloads</c> without postgres).</summary>
    Off,
}
