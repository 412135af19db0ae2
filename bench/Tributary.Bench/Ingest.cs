using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Tributary.Topics;

namespace Tributary.Bench;

/// <summary>
/// The topic-ingest part of the benchmark: durable appends of <c>order.paid</c> events to the topic <c>orders</c>, straight
/// into <see cref="SqliteEventStore"/> in the load generator's own process (the store's ceiling), and through Tributary's
/// <c>publish_event</c> tool over stdio and HTTP (what a client gets through MCP).
/// </summary>
/// <remarks>
/// Every store starts from the same file: a template filled once per run with as many events as the default retention
/// keeps (100,000, what <c>topics: { orders: {} }</c> gives), so each store runs in its steady state from the first call:
/// every 1,000 appends retention deletes the oldest 1,000 events and the file stays the same size.
/// </remarks>
internal sealed class IngestBench : IAsyncDisposable
{
    public const string Topic = "orders";
    public const string EventType = "order.paid";

    /// <summary>The source <c>publish_event</c> records; the in-process events carry it too, so rows are the same size.</summary>
    public const string EventSource = "publish_event";

    /// <summary>Report labels: the in-process store's cells, and Tributary's <c>publish_event</c> cells (server "Tributary", transport stdio or HTTP).</summary>
    public const string StoreServer = "SqliteEventStore";
    public const string StoreTransport = "in-process";
    public const string StoreWorkload = "ingest append";
    public const string McpWorkload = "ingest publish_event";

    /// <summary>The target: durable appends per second on the in-process store, at its best concurrency.</summary>
    public const double Target = 20_000;

    /// <summary>How many different payloads the workloads cycle through.</summary>
    public const int PayloadCount = 8192;

    /// <summary>Appenders that fill the template (the fill's rate is reported too, from an empty store).</summary>
    public const int FillConcurrency = 64;

    /// <summary>Closed-loop appenders per cell: in process, and through MCP.</summary>
    public static readonly int[] StoreConcurrency = [1, 8, 64, 512];
    public static readonly int[] McpConcurrency = [1, 8, 32];

    /// <summary>Events in the template: the default retention's count.</summary>
    public static readonly long FillEvents = TopicRetention.Default.MaxEvents;

    private readonly SqliteEventStore _store;
    private readonly NewEvent[] _events;

    private IngestBench(string directory, SqliteEventStore store, NewEvent[] events)
    {
        Folder = directory;
        _store = store;
        _events = events;
    }

    /// <summary>The folder of this part (deleted with the run's folder).</summary>
    public string Folder { get; }

    /// <summary>The in-process store's file.</summary>
    public string StorePath => Path.Combine(Folder, "store", SqliteEventStore.FileName);

    /// <summary>Tributary's configuration for the stdio server and for the HTTP server (each its own data_dir with a copy of the template).</summary>
    public string StdioConfig => Path.Combine(Folder, "stdio.yaml");

    public string HttpConfig => Path.Combine(Folder, "http.yaml");

    /// <summary>Figures of the fill and the file, for the report.</summary>
    public IngestPart Part { get; private set; } = null!;

    /// <summary>
    /// The payloads, seeded (the same in every run): an <c>order.paid</c> object of about 200 bytes of compact JSON, e.g.
    /// <c>{"order_id":4821337,"customer_id":1742,"status":"paid","total_cents":12999,"currency":"EUR","items":3,"payment":{"method":"card","reference":"pay_…"},"message":"order 4821337 paid"}</c>.
    /// </summary>
    public static string[] Payloads()
    {
        var random = new Random(20_000);
        var payloads = new string[PayloadCount];
        for (var i = 0; i < payloads.Length; i++)
        {
            var order = random.Next(1_000_000, 10_000_000);
            var customer = random.Next(1, 50_001);
            var total = random.Next(500, 250_000);
            var items = random.Next(1, 9);
            var reference = random.NextInt64(long.MaxValue).ToString("x16", CultureInfo.InvariantCulture);
            payloads[i] = string.Create(
                CultureInfo.InvariantCulture,
                $$"""{"order_id":{{order}},"customer_id":{{customer}},"status":"paid","total_cents":{{total}},"currency":"EUR","items":{{items}},"payment":{"method":"card","reference":"pay_{{reference}}"},"message":"order {{order}} paid"}""");
        }

        return payloads;
    }

    /// <summary>
    /// Fills the template (empty store, <see cref="FillEvents"/> appends by <see cref="FillConcurrency"/> appenders), measures
    /// its file, copies it for the in-process store and for each Tributary server, opens the in-process store and writes the
    /// servers' configurations, all under <paramref name="directory"/>.
    /// </summary>
    public static async Task<IngestBench> StartAsync(string directory)
    {
        var payloads = Payloads();
        var events = payloads.Select(p => NewEvent.Create(Topic, EventType, JsonElement.Parse(p), severity: null, traceId: null, EventSource)).ToArray();
        var template = Path.Combine(directory, "template", SqliteEventStore.FileName);
        var fill = Stopwatch.StartNew();
        var store = new SqliteEventStore(template, new EventBus());
        try
        {
            var next = -1L;
            await Task.WhenAll(Enumerable.Range(0, FillConcurrency).Select(_ => Task.Run(async () =>
            {
                long i;
                while ((i = Interlocked.Increment(ref next)) < FillEvents)
                {
                    await store.AppendAsync(events[i % events.Length], CancellationToken.None);
                }
            })));
        }
        finally
        {
            // Closing the last connection checkpoints the WAL into the database file and removes it.
            await store.DisposeAsync();
        }

        var fillSeconds = fill.Elapsed.TotalSeconds;
        var (fileBytes, count) = FileFigures(template);
        if (count != FillEvents)
        {
            throw new InvalidOperationException($"the ingest template holds {count} events, expected {FillEvents}");
        }

        foreach (var folder in new[] { "store", "stdio", "http" })
        {
            Directory.CreateDirectory(Path.Combine(directory, folder));
            File.Copy(template, Path.Combine(directory, folder, SqliteEventStore.FileName));
        }

        var bench = new IngestBench(directory, new SqliteEventStore(Path.Combine(directory, "store", SqliteEventStore.FileName), new EventBus()), events)
        {
            Part = new IngestPart(
                PayloadBytes: payloads.Average(p => (double)System.Text.Encoding.UTF8.GetByteCount(p)),
                Example: payloads[0],
                FillEvents: FillEvents,
                FillConcurrency: FillConcurrency,
                FillSeconds: fillSeconds,
                FileBytes: fileBytes,
                StoreConcurrency: StoreConcurrency,
                McpConcurrency: McpConcurrency,
                FileBytesAfterRun: null,
                EventsAfterRun: null),
        };
        foreach (var (config, folder) in new[] { (bench.StdioConfig, "stdio"), (bench.HttpConfig, "http") })
        {
            await File.WriteAllTextAsync(config, $$"""
                # Written by tributary-bench (bench/Tributary.Bench/Ingest.cs) for one run; deleted with it.
                server:
                  data_dir: {{JsonSerializer.Serialize(Path.Combine(directory, folder))}}
                topics:
                  {{Topic}}: {}

                """);
        }

        return bench;
    }

    /// <summary>One append per call into the in-process store (appenders share it; its single writer batches them).</summary>
    public Func<int, CallAsync> StoreCaller() => _ => async (sequence, check, cancellationToken) =>
    {
        var stored = await _store.AppendAsync(_events[sequence % _events.Length], cancellationToken);
        if (check && (stored.Topic != Topic || stored.Type != EventType || stored.Sequence <= FillEvents))
        {
            throw new InvalidOperationException($"append returned {stored.Topic}/{stored.Type} #{stored.Sequence}");
        }
    };

    /// <summary>Closes the in-process store and records its file as the run left it.</summary>
    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync();
        var (bytes, count) = FileFigures(StorePath);
        Part = Part with { FileBytesAfterRun = bytes, EventsAfterRun = count };
    }

    /// <summary>Size of a closed store (database file plus any WAL left) and its number of events.</summary>
    private static (long Bytes, long Events) FileFigures(string path)
    {
        var wal = path + "-wal";
        var bytes = new FileInfo(path).Length + (File.Exists(wal) ? new FileInfo(wal).Length : 0);
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM events";
        return (bytes, (long)command.ExecuteScalar()!);
    }
}

/// <summary>The ingest part of a run, as the report describes it.</summary>
/// <param name="PayloadBytes">Mean size of an event's data, compact JSON.</param>
/// <param name="Example">The first payload.</param>
/// <param name="FillEvents">Events in the template every store starts from.</param>
/// <param name="FillConcurrency">Appenders that filled it.</param>
/// <param name="FillSeconds">Time to fill it from empty (store opened, appends, closed).</param>
/// <param name="FileBytes">The template's file after the fill (WAL checkpointed).</param>
/// <param name="StoreConcurrency">Concurrencies of the in-process cells.</param>
/// <param name="McpConcurrency">Concurrencies of the publish_event cells.</param>
/// <param name="FileBytesAfterRun">The in-process store's file after the run (WAL checkpointed), or null.</param>
/// <param name="EventsAfterRun">Events it held then (retention keeps about <paramref name="FillEvents"/>), or null.</param>
internal sealed record IngestPart(
    double PayloadBytes,
    string Example,
    long FillEvents,
    int FillConcurrency,
    double FillSeconds,
    long FileBytes,
    int[] StoreConcurrency,
    int[] McpConcurrency,
    long? FileBytesAfterRun,
    long? EventsAfterRun)
{
    public double FillEventsPerSecond => FillEvents / FillSeconds;

    public double FileBytesPerThousand => FileBytes * 1000.0 / FillEvents;
}
