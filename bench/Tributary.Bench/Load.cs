using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Tributary.Bench;

/// <summary>A tool call repeated under load; <see cref="Request"/> gives the i-th call's parameters.</summary>
internal sealed class Workload
{
    private readonly CallToolRequestParams[] _requests;

    private readonly Action<CallToolRequestParams, CallToolResult> _check;

    private Workload(string name, CallToolRequestParams[] requests, Action<CallToolResult> check)
        : this(name, requests, (_, result) => check(result))
    {
    }

    private Workload(string name, CallToolRequestParams[] requests, Action<CallToolRequestParams, CallToolResult> check)
    {
        Name = name;
        _requests = requests;
        _check = check;
    }

    public string Name { get; }

    /// <summary>Throws when the result of the i-th call is not what the workload expects (run on warm-up results).</summary>
    public void Check(long i, CallToolResult result) => _check(Request(i), result);

    public CallToolRequestParams Request(long i) => _requests[i % _requests.Length];

    public const int DemoOrderCount = 60_000;
    public const string PointSql = "SELECT * FROM orders WHERE id = @id";
    public const string RowsSql = "SELECT * FROM orders ORDER BY id LIMIT 1000";

    /// <summary>How many different ids a point-query workload cycles through.</summary>
    public const int PointIdCount = 8192;

    /// <summary>The ids a point-query workload asks for, in order (seeded: every run and every side asks for the same ids).</summary>
    public static int[] PointIds(int orderCount)
    {
        var random = new Random(42);
        var ids = new int[PointIdCount];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = random.Next(1, orderCount + 1);
        }

        return ids;
    }

    /// <summary>Point query by primary key, with a different id on each call (params bound by the server).</summary>
    public static Workload PointQuery(string source = "shop", int orderCount = DemoOrderCount, string name = "point query") => new(
        name,
        [.. PointIds(orderCount).Select(id => new CallToolRequestParams
        {
            Name = "query",
            Arguments = new Dictionary<string, JsonElement>
            {
                ["source"] = Json(JsonSerializer.Serialize(source)),
                ["sql"] = Json(JsonSerializer.Serialize(PointSql)),
                ["params"] = Json($"{{\"id\":{id.ToString(CultureInfo.InvariantCulture)}}}"),
            },
        })],
        result => ExpectRows(result, 1));

    /// <summary>The first 1000 orders, in one page.</summary>
    public static Workload Rows1000(string source = "shop", string name = "1000-row result") => new(
        name,
        [
            new CallToolRequestParams
            {
                Name = "query",
                Arguments = new Dictionary<string, JsonElement>
                {
                    ["source"] = Json(JsonSerializer.Serialize(source)),
                    ["sql"] = Json(JsonSerializer.Serialize(RowsSql)),
                    ["max_rows"] = Json("1000"),
                },
            },
        ],
        result => ExpectRows(result, 1000));

    /// <summary>How many different (id, note) pairs the write workload cycles through.</summary>
    public const int WriteIdCount = 8192;

    /// <summary>
    /// The ids the write workload updates, in order (seeded, the same on every side and in every run): random from 1001 to
    /// <paramref name="orderCount"/>, leaving out ids 1 to 1000 (the 1000-row result) and the point query's ids, so that
    /// the read workloads keep returning the seeded rows.
    /// </summary>
    public static int[] WriteIds(int orderCount)
    {
        var random = new Random(4711);
        var read = PointIds(orderCount).ToHashSet();
        var ids = new int[WriteIdCount];
        for (var i = 0; i < ids.Length; i++)
        {
            int id;
            do
            {
                id = random.Next(1001, orderCount + 1);
            }
            while (read.Contains(id));
            ids[i] = id;
        }

        return ids;
    }

    /// <summary>The note the i-th write sets (i: the index into <see cref="WriteIds"/>).</summary>
    public static string WriteNote(int i) => string.Create(CultureInfo.InvariantCulture, $"bench {i}");

    /// <summary>
    /// <c>update_rows</c> of one row by primary key: <c>{source, table: "orders", key: {id}, set: {note: "bench i"}}</c>, no
    /// expected_version (writes to the same row never conflict), no idempotency key, committed (so audited). The check:
    /// no error, the row of that key, <c>after.note</c> as sent, the version incremented, not a dry run, an audit id.
    /// </summary>
    public static Workload UpdateRow(string source, int[] ids, string name) => new(
        name,
        [.. ids.Select((id, i) => new CallToolRequestParams
        {
            Name = "update_rows",
            Arguments = new Dictionary<string, JsonElement>
            {
                ["source"] = Json(JsonSerializer.Serialize(source)),
                ["table"] = Json("\"orders\""),
                ["key"] = Json($"{{\"id\":{id.ToString(CultureInfo.InvariantCulture)}}}"),
                ["set"] = Json($"{{\"note\":{JsonSerializer.Serialize(WriteNote(i))}}}"),
            },
        })],
        (request, result) =>
        {
            if (result.IsError == true)
            {
                throw new InvalidOperationException($"update_rows failed: {(result.Content.FirstOrDefault() as TextContentBlock)?.Text}");
            }

            var id = request.Arguments!["key"].GetProperty("id").GetInt32();
            var note = request.Arguments["set"].GetProperty("note").GetString();
            if (result.StructuredContent is not { } body
                || !body.TryGetProperty("before", out var before) || !body.TryGetProperty("after", out var after)
                || after.GetProperty("id").GetInt32() != id || after.GetProperty("note").GetString() != note
                || after.GetProperty("version").GetInt32() != before.GetProperty("version").GetInt32() + 1
                || body.GetProperty("dry_run").GetBoolean() || body.GetProperty("audit_id").ValueKind != JsonValueKind.Number)
            {
                throw new InvalidOperationException($"update_rows of id {id}: expected after.note \"{note}\", the version + 1 and an audit_id, got {result.StructuredContent?.GetRawText() ?? "no structuredContent"}");
            }
        });

    /// <summary>
    /// <c>publish_event {topic, type, data}</c>, the i-th call with the i-th payload (cycled). The check: no error, the
    /// topic, and a sequence number.
    /// </summary>
    public static Workload PublishEvent(string topic, string type, string[] payloads, string name) => new(
        name,
        [.. payloads.Select(payload => new CallToolRequestParams
        {
            Name = "publish_event",
            Arguments = new Dictionary<string, JsonElement>
            {
                ["topic"] = Json(JsonSerializer.Serialize(topic)),
                ["type"] = Json(JsonSerializer.Serialize(type)),
                ["data"] = Json(payload),
            },
        })],
        result =>
        {
            if (result.StructuredContent is not { } body
                || !body.TryGetProperty("topic", out var stored) || stored.GetString() != topic
                || !body.TryGetProperty("sequence", out var sequence) || sequence.GetInt64() <= 0)
            {
                throw new InvalidOperationException($"publish_event: expected the topic and a sequence number, got {result.StructuredContent?.GetRawText() ?? "no structuredContent"}");
            }
        });

    /// <summary>HelloServer's one tool.</summary>
    public static Workload Hello() => new(
        "hello",
        [new CallToolRequestParams { Name = "hello" }],
        result =>
        {
            if (result.IsError == true || result.Content is not [TextContentBlock { Text.Length: > 0 }])
            {
                throw new InvalidOperationException("hello returned no text");
            }
        });

    /// <summary>The same <c>fetch</c> of an HTTP API source on every call, expecting its answer.</summary>
    public static Workload Fetch(string source, string path, string name) => new(
        name,
        [new CallToolRequestParams { Name = "fetch", Arguments = new Dictionary<string, JsonElement> { ["source"] = Json(JsonSerializer.Serialize(source)), ["path"] = Json(JsonSerializer.Serialize(path)) } }],
        result =>
        {
            if (result.IsError == true || result.StructuredContent is not { } answer || answer.GetProperty("status").GetInt32() != 200)
            {
                throw new InvalidOperationException($"fetch failed: {(result.Content.FirstOrDefault() as TextContentBlock)?.Text}");
            }
        });

    /// <summary>The same <c>query</c> on every call, expecting <paramref name="rows"/> rows.</summary>
    public static Workload Query(string source, string sql, int rows, string name) => new(
        name,
        [new CallToolRequestParams { Name = "query", Arguments = new Dictionary<string, JsonElement> { ["source"] = Json(JsonSerializer.Serialize(source)), ["sql"] = Json(JsonSerializer.Serialize(sql)) } }],
        result => ExpectRows(result, rows));

    /// <summary>HelloServer's fixed results shaped like Tributary's (started with --shapes): the SDK's cost of the payload alone.</summary>
    public static Workload Shaped(string tool, int rows) => new(
        tool.Replace('_', '-'),
        [new CallToolRequestParams { Name = tool }],
        result => ExpectRows(result, rows));

    private static JsonElement Json(string text) => JsonElement.Parse(text);

    private static void ExpectRows(CallToolResult result, int rows)
    {
        if (result.IsError == true)
        {
            throw new InvalidOperationException($"the query failed: {(result.Content.FirstOrDefault() as TextContentBlock)?.Text}");
        }

        if (result.StructuredContent is not { } structured || structured.GetProperty("row_count").GetInt32() != rows)
        {
            throw new InvalidOperationException($"expected {rows} rows, got {result.StructuredContent?.GetRawText() ?? "no structuredContent"}");
        }
    }
}

/// <summary>One measured window of one cell.</summary>
/// <param name="CallsPerSecond">Completed calls over the window (including the calls in flight at its end).</param>
/// <param name="P50Ms">Median latency of a call as the client sees it.</param>
/// <param name="P99Ms">99th percentile latency.</param>
/// <param name="Calls">Completed calls.</param>
/// <param name="Errors">Failed calls (exceptions or tool errors).</param>
/// <param name="ServerCpuUsPerCall">CPU time of the server process per call (user + system); null without a server process.</param>
/// <param name="ClientCpuUsPerCall">CPU time of the load generator per call (for in-process raw-driver cells: all of the client's work).</param>
/// <param name="OtherCpuPercent">CPU used by everything but the server under test, the load generator and the database, in % of one core: other work on the machine (noise).</param>
/// <param name="DatabaseCpuUsPerCall">CPU time of the database server's processes per call (PostgreSQL cells only).</param>
internal sealed record Sample(double CallsPerSecond, double P50Ms, double P99Ms, long Calls, long Errors, double? ServerCpuUsPerCall, double ClientCpuUsPerCall, double? OtherCpuPercent, double? DatabaseCpuUsPerCall = null);

/// <summary>One call of a load cell: the call's sequence number, whether to check its result (warm-up), and the run's token.</summary>
internal delegate ValueTask CallAsync(long sequence, bool check, CancellationToken cancellationToken);

/// <summary>Closed-loop load: N workers, each with one call in flight, for a fixed time.</summary>
internal static class LoadRunner
{
    /// <summary>Runs <paramref name="concurrency"/> workers for <paramref name="warmUp"/> (results checked, timings dropped), then measures for <paramref name="duration"/>.</summary>
    public static Task<Sample> RunAsync(Func<int, McpClient> clientOf, Workload workload, int concurrency, TimeSpan warmUp, TimeSpan duration, int? serverPid) =>
        RunAsync(ToolCaller(clientOf, workload), concurrency, warmUp, duration, serverPid, databaseCpu: null);

    /// <summary>The caller of worker <c>w</c> for an MCP tool workload: one <c>tools/call</c> through <paramref name="clientOf"/>(w).</summary>
    public static Func<int, CallAsync> ToolCaller(Func<int, McpClient> clientOf, Workload workload) => w =>
    {
        var client = clientOf(w);
        return async (sequence, check, cancellationToken) =>
        {
            var result = await client.CallToolAsync(workload.Request(sequence), cancellationToken);
            if (result.IsError == true)
            {
                throw new InvalidOperationException($"tool error: {(result.Content.FirstOrDefault() as TextContentBlock)?.Text}");
            }

            if (check)
            {
                workload.Check(sequence, result);
            }
        };
    };

    /// <summary>
    /// Runs <paramref name="concurrency"/> workers, worker <c>w</c> calling <paramref name="callerOf"/>(w), for <paramref name="warmUp"/>
    /// (results checked, timings dropped), then measures for <paramref name="duration"/>. <paramref name="serverPid"/>: the
    /// server process to charge CPU to (null for in-process calls); <paramref name="databaseCpu"/>: the database server's CPU time so far.
    /// </summary>
    public static async Task<Sample> RunAsync(Func<int, CallAsync> callerOf, int concurrency, TimeSpan warmUp, TimeSpan duration, int? serverPid, Func<TimeSpan?>? databaseCpu)
    {
        if (warmUp > TimeSpan.Zero)
        {
            await RunWindowAsync(callerOf, concurrency, warmUp, check: true);
        }

        var serverCpu0 = serverPid is { } pid ? ProcFs.CpuTime(pid) : TimeSpan.Zero;
        var databaseCpu0 = databaseCpu?.Invoke();
        var clientCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var machine0 = ProcFs.MachineBusy();
        var (latencies, errors, elapsed) = await RunWindowAsync(callerOf, concurrency, duration, check: false);
        var machine = ProcFs.MachineBusy() - machine0;
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime - clientCpu0;
        var databaseCpuUsed = databaseCpu0 is { } d0 && databaseCpu!() is { } d1 ? d1 - d0 : (TimeSpan?)null;
        var serverCpu = serverPid is { } pid2
            ? serverCpu0 is { } before && ProcFs.CpuTime(pid2) is { } after ? after - before : (TimeSpan?)null
            : TimeSpan.Zero;

        var calls = latencies.Length;
        Array.Sort(latencies);
        var perCall = calls == 0 ? double.NaN : 1e6 / calls;
        var databaseKnown = databaseCpu is null || databaseCpuUsed is not null;
        return new Sample(
            CallsPerSecond: calls / elapsed.TotalSeconds,
            P50Ms: Percentile(latencies, 0.50),
            P99Ms: Percentile(latencies, 0.99),
            Calls: calls,
            Errors: errors,
            ServerCpuUsPerCall: serverPid is not null && serverCpu is { } s ? s.TotalSeconds * perCall : null,
            ClientCpuUsPerCall: clientCpu.TotalSeconds * perCall,
            OtherCpuPercent: machine is { } m && serverCpu is { } sc && databaseKnown
                ? Math.Max(0, (m - sc - clientCpu - (databaseCpuUsed ?? TimeSpan.Zero)).TotalSeconds / elapsed.TotalSeconds * 100)
                : null,
            DatabaseCpuUsPerCall: databaseCpuUsed is { } db ? db.TotalSeconds * perCall : null);
    }

    private static async Task<(double[] LatenciesMs, long Errors, TimeSpan Elapsed)> RunWindowAsync(Func<int, CallAsync> callerOf, int concurrency, TimeSpan duration, bool check)
    {
        var start = Stopwatch.GetTimestamp();
        var deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        // Bounds every call: a hung server fails the cell instead of the run.
        using var abort = new CancellationTokenSource(duration + TimeSpan.FromSeconds(60));
        long sequence = 0;
        long errors = 0;
        Exception? firstError = null;
        var workers = new Task<List<double>>[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            var call = callerOf(w);
            workers[w] = Task.Run(async () =>
            {
                var latencies = new List<double>(4096);
                while (Stopwatch.GetTimestamp() < deadline)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        await call(Interlocked.Increment(ref sequence), check, abort.Token);
                        latencies.Add((Stopwatch.GetTimestamp() - t0) * 1000.0 / Stopwatch.Frequency);
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !abort.IsCancellationRequested)
                    {
                        Interlocked.Increment(ref errors);
                        Interlocked.CompareExchange(ref firstError, e, null);
                        if (check)
                        {
                            throw;
                        }
                    }
                }

                return latencies;
            });
        }

        var all = await Task.WhenAll(workers);
        var elapsed = Stopwatch.GetElapsedTime(start);
        if (firstError is not null && Interlocked.Read(ref errors) > 0)
        {
            Console.Error.WriteLine($"    {errors} failed call(s); first: {firstError.GetType().Name}: {firstError.Message}");
        }

        return (all.SelectMany(x => x).ToArray(), errors, elapsed);
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}

/// <summary>One server (or the raw driver) with one workload on one transport: a row of cells in the load matrix.</summary>
/// <param name="Server">Report label: Tributary, HelloServer or the raw driver.</param>
/// <param name="Transport">stdio, HTTP or in-process.</param>
/// <param name="Workload">The workload's report label.</param>
/// <param name="CallerOf">Worker index to its caller.</param>
/// <param name="Pid">The server process to charge CPU to; null for in-process calls.</param>
/// <param name="DatabaseCpu">The database server's CPU time so far (PostgreSQL cells), else null.</param>
/// <param name="Concurrency">Concurrencies of this row; null: the run's.</param>
internal sealed record LoadTarget(string Server, string Transport, string Workload, Func<int, CallAsync> CallerOf, int? Pid, Func<TimeSpan?>? DatabaseCpu = null, int[]? Concurrency = null);
