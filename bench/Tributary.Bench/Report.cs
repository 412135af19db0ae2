using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tributary.Bench;

/// <summary>Everything a run measured, and its Markdown and JSON forms.</summary>
internal sealed class Report(BenchOptions options, DateTimeOffset started, RepoPaths paths)
{
    public const double PointRatioTarget = 0.80;
    public const double BytesRatioTarget = 0.50;
    public const double StartupTargetMs = 300;
    public const double IdleMemoryTargetMb = 80;

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private static readonly string[] Transports = ["stdio", "HTTP"];

    private readonly List<Cell> _cells = [];

    public List<StartupResult> Startup { get; } = [];

    public List<MemoryResult> Memory { get; } = [];

    public List<PublishOutcome> Publishes { get; } = [];

    public BytesResult? Bytes { get; set; }

    /// <summary>The PostgreSQL part: how it went (ran, or why it was skipped); null when it was not asked for.</summary>
    public PostgresPart? Postgres { get; set; }

    /// <summary>The topic-ingest part: the template's figures and the store's file after the run; null when it did not run.</summary>
    public IngestPart? Ingest { get; set; }

    /// <summary>The topic-listener part; null when it did not run.</summary>
    public ListenersPart? Listeners { get; set; }

    public double MeasuredSeconds { get; set; }

    public double TotalSeconds { get; set; }

    public void AddSample(string server, string transport, string workload, int concurrency, Sample sample)
    {
        var cell = _cells.Find(c => c.Server == server && c.Transport == transport && c.Workload == workload && c.Concurrency == concurrency);
        if (cell is null)
        {
            cell = new Cell(server, transport, workload, concurrency);
            _cells.Add(cell);
        }

        cell.Samples.Add(sample);
    }

    private Cell? Find(string server, string transport, string workload, int concurrency) =>
        _cells.Find(c => c.Server == server && c.Transport == transport && c.Workload == workload && c.Concurrency == concurrency);

    private IEnumerable<(string Transport, int Concurrency, double? Ratio, double? RowsRatio)> Ratios() =>
        from transport in Transports
        from c in options.Concurrency
        let hello = Find("HelloServer", transport, "hello", c)?.CallsPerSecond
        let point = Find("Tributary", transport, "point query", c)?.CallsPerSecond
        let rows = Find("Tributary", transport, "1000-row result", c)?.CallsPerSecond
        where hello is not null && point is not null
        select (transport, c, hello > 0 ? point / hello : null, hello > 0 ? rows / hello : null);

    private IEnumerable<(string Target, string Value, bool? Met)> Targets()
    {
        foreach (var (transport, c, ratio, _) in Ratios())
        {
            yield return ($"point query ≥ 80 % of hello, {transport}, c={c}", ratio is { } r ? Pct(r) : "n/a", ratio is { } met ? met >= PointRatioTarget : null);
        }

        foreach (var (workload, c, target, stdio, http) in PostgresRatios().Where(r => r.Target is not null && r.Concurrency == PostgresTargetConcurrency(r.Workload)))
        {
            foreach (var (transport, ratio) in new[] { ("stdio", stdio), ("HTTP", http) })
            {
                yield return ($"{workload}: Tributary ≥ {Pct(target!.Value)} of raw Npgsql, {transport}, c={c}", ratio is { } r ? Pct(r) : "n/a", ratio is { } met ? met >= target : null);
            }
        }

        foreach (var (workload, throughput) in (Postgres?.Workloads ?? []).Where(w => Postgres!.SkipReason is null && w.Throughput is not null).Select(w => (w.Name, w.Throughput!)))
        {
            foreach (var transport in Transports)
            {
                var calls = Find("Tributary", transport, workload, throughput.Concurrency)?.CallsPerSecond;
                yield return ($"{throughput.Label}, {transport}", calls is { } v ? Invariant($"{v:N0} calls/s") : "n/a (not run)", calls is { } met ? met >= throughput.CallsPerSecond : null);
            }
        }

        if (Ingest is not null && BestStoreCell() is { } best)
        {
            yield return (
                Invariant($"durable ingest ≥ {IngestBench.Target:N0} events/s with batching on SQLite (SqliteEventStore in process, best of c={string.Join('/', Ingest.StoreConcurrency)}: c={best.Concurrency})"),
                Invariant($"{best.CallsPerSecond:N0} events/s"),
                best.CallsPerSecond >= IngestBench.Target);
        }

        if (Listeners?.Cells.FirstOrDefault(c => c.Listeners == ListenersBench.TargetListeners) is { } listeners)
        {
            yield return (
                Invariant($"p99 publish→notification ≤ {ListenersBench.TargetP99Ms:0} ms at {ListenersBench.TargetListeners:N0} listeners (2026-07-28 subscriptions/listen, one node)"),
                Invariant($"{listeners.P99Ms:0.0} ms"),
                listeners.P99Ms <= ListenersBench.TargetP99Ms);
        }

        if (Bytes is { } b)
        {
            yield return ("compact bytes ≤ 50 % of objects (compact objects)", Pct(b.RatioToObjects), b.RatioToObjects <= BytesRatioTarget);
            yield return ("compact bytes ≤ 50 % of objects (indented objects, as peers send)", Pct(b.RatioToIndentedObjects), b.RatioToIndentedObjects <= BytesRatioTarget);
        }

        foreach (var s in Startup.Where(s => s.Build.StartsWith("Tributary", StringComparison.Ordinal)))
        {
            yield return ($"stdio spawn to tools/list ≤ 300 ms, {s.Build}", $"{s.MedianMs:0} ms", s.MedianMs <= StartupTargetMs);
        }

        foreach (var m in Memory.Where(m => m.Build.StartsWith("Tributary", StringComparison.Ordinal)))
        {
            yield return ($"idle memory ≤ 80 MB, {m.Build}", $"{m.RssMb:0.0} MB", m.RssMb <= IdleMemoryTargetMb);
        }
    }

    public string Markdown()
    {
        var md = new StringBuilder();
        var reps = options.Repetitions == 1 ? "1 repetition (smoke run: not for decisions)" : $"medians of {options.Repetitions} repetitions";
        md.AppendLine(Invariant($"## Tributary benchmark, {started:yyyy-MM-dd HH:mm} UTC"));
        md.AppendLine();
        md.AppendLine(Invariant($"Machine: {Environment.ProcessorCount} cores ({CpuModel()}), {RuntimeInformation.OSDescription}, .NET {Environment.Version}; load generator and servers share the cores, so the figures are noisy. Commit {Git()}."));
        md.AppendLine(Invariant($"Load: {reps}; {options.Duration.TotalSeconds:0.#} s per cell after {options.WarmUp.TotalSeconds:0.#} s of warm-up, and {options.InitialWarmUp.TotalSeconds:0.#} s of load per server and workload before the first repetition (tiered JIT); closed loop, each worker keeps one call in flight. stdio: one client (one process, one pipe) for all workers; HTTP: {(options.HttpClientsPerWorker ? "one SDK client per worker" : "one SDK client shared by all workers")}, one connection pool. Client protocol: {options.ProtocolVersion ?? "SDK default (2026-07-28; over HTTP the hybrid servers answer it statelessly)"}. Servers are JIT builds."));
        var sqliteCells = _cells.Where(c => !IsPostgres(c) && !IsIngest(c)).ToList();
        if (sqliteCells.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("### Throughput and latency");
            md.AppendLine();
            md.AppendLine("| server | transport | workload | c | calls/s | p50 ms | p99 ms | server CPU µs/call | client CPU µs/call | other CPU % | errors |");
            md.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var c in sqliteCells.OrderBy(c => c.Transport == "stdio" ? 0 : 1).ThenBy(c => c.Server == "Tributary" ? 0 : 1).ThenBy(c => c.Workload).ThenBy(c => c.Concurrency))
            {
                md.AppendLine(Invariant($"| {c.Server} | {c.Transport} | {c.Workload} | {c.Concurrency} | {c.CallsPerSecond:N0} | {c.P50Ms:0.00} | {c.P99Ms:0.00} | {c.ServerCpuUsPerCall:N0} | {c.ClientCpuUsPerCall:N0} | {c.OtherCpuPercent:0} | {c.Errors} |"));
            }

            AppendNoise(md, sqliteCells);
            md.AppendLine();
            md.AppendLine("### Tributary ÷ HelloServer, calls/s on the same transport (target for the point query: ≥ 80 %)");
            md.AppendLine();
            md.AppendLine("| transport | c | point query ÷ hello | 1000-row result ÷ hello |");
            md.AppendLine("|---|---:|---:|---:|");
            foreach (var (transport, c, ratio, rowsRatio) in Ratios())
            {
                md.AppendLine(Invariant($"| {transport} | {c} | {(ratio is { } r ? Pct(r) : "n/a")} | {(rowsRatio is { } rr ? Pct(rr) : "n/a")} |"));
            }
        }

        AppendPostgres(md);
        AppendIngest(md);
        AppendListeners(md);

        if (_cells.Any(c => c.Workload.EndsWith("shaped", StringComparison.Ordinal)))
        {
            md.AppendLine();
            md.AppendLine("### Where the time goes: HelloServer returning fixed results of Tributary's shape and size");
            md.AppendLine();
            md.AppendLine("calls/s (server CPU µs/call). The shaped tools return a prebuilt result (same JSON as text and structuredContent), so they cost only the SDK's and the transport's handling of that payload; Tributary minus shaped is Tributary's own work (query, JSON writing, copies).");
            md.AppendLine();
            md.AppendLine("| transport | c | hello | point-shaped | Tributary point query | rows-shaped | rows-structured-only | Tributary 1000-row |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var transport in Transports)
            {
                foreach (var c in options.Concurrency)
                {
                    string Fig(string server, string workload) => Find(server, transport, workload, c) is { } cell
                        ? Invariant($"{cell.CallsPerSecond:N0} ({cell.ServerCpuUsPerCall:N0})")
                        : "n/a";
                    md.AppendLine(Invariant($"| {transport} | {c} | {Fig("HelloServer", "hello")} | {Fig("HelloServer", "point-shaped")} | {Fig("Tributary", "point query")} | {Fig("HelloServer", "rows-shaped")} | {Fig("HelloServer", "rows-structured-only")} | {Fig("Tributary", "1000-row result")} |"));
                }
            }
        }

        if (Bytes is { } b)
        {
            md.AppendLine();
            md.AppendLine(Invariant($"### Bytes per row, {b.Rows}-row result of `SELECT * FROM orders` (the demo's 9 columns)"));
            md.AppendLine();
            md.AppendLine("| encoding | bytes | per row | compact ÷ this |");
            md.AppendLine("|---|---:|---:|---:|");
            md.AppendLine(Invariant($"| compact structuredContent `{{columns, rows:[[...]]}}` (what Tributary sends) | {b.CompactBytes:N0} | {b.CompactPerRow:0.0} | 100 % |"));
            md.AppendLine(Invariant($"| array of objects, compact `[{{\"id\":..}}]` | {b.ObjectsCompactBytes:N0} | {b.ObjectsCompactPerRow:0.0} | {Pct(b.RatioToObjects)} |"));
            md.AppendLine(Invariant($"| array of objects, indented (as peers send) | {b.ObjectsIndentedBytes:N0} | {b.ObjectsIndentedPerRow:0.0} | {Pct(b.RatioToIndentedObjects)} |"));
            md.AppendLine(Invariant($"| whole JSON-RPC response on the stdio wire (structuredContent + text copy) | {b.WireResponseBytes:N0} | {(double)b.WireResponseBytes / b.Rows:0.0} | {Pct((double)b.CompactBytes / b.WireResponseBytes)} |"));
            md.AppendLine();
            md.AppendLine(Invariant($"The text content is the same JSON ({b.TextContentBytes:N0} bytes, identical: {(b.TextEqualsStructured ? "yes" : "NO")}); on the wire it is a JSON string. A point-query response is {b.PointWireResponseBytes:N0} bytes on the stdio wire."));
        }

        if (Startup.Count > 0)
        {
            md.AppendLine();
            md.AppendLine(Invariant($"### Start-up: spawn to first `tools/list` answered over stdio (median of {Startup[0].SamplesMs.Length}; target ≤ 300 ms)"));
            md.AppendLine();
            md.AppendLine("| build | median ms | min ms | max ms |");
            md.AppendLine("|---|---:|---:|---:|");
            foreach (var s in Startup)
            {
                md.AppendLine(Invariant($"| {s.Build} | {s.MedianMs:0} | {s.MinMs:0} | {s.MaxMs:0} |"));
            }
        }

        if (Memory.Count > 0)
        {
            md.AppendLine();
            md.AppendLine(Invariant($"### Idle memory: HTTP server after start-up, {Memory[0].Calls} calls and {Memory[0].IdleSeconds:0} s idle (target ≤ 80 MB)"));
            md.AppendLine();
            md.AppendLine("| build | VmRSS MB | anonymous (GC heap, native) MB | file-backed (mapped binaries) MB | shared memory (W^X code mappings) MB | VmHWM (peak) MB |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|");
            foreach (var m in Memory)
            {
                md.AppendLine(Invariant($"| {m.Build} | {m.RssMb:0.0} | {m.AnonMb:0.0} | {m.FileMb:0.0} | {m.ShmemMb:0.0} | {m.PeakRssMb:0.0} |"));
            }
        }

        if (Publishes.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("### Publishes");
            md.AppendLine();
            foreach (var p in Publishes)
            {
                var size = p.BinaryBytes is { } bytes && p.OutputBytes is { } output
                    ? Invariant($", executable {bytes / 1048576.0:0.0} MB, deployable folder {output / 1048576.0:0.0} MB{(p.Kind == "aot" ? "" : " (plus the shared .NET runtime)")}")
                    : "";
                md.AppendLine(Invariant($"- {(p.Kind == "aot" ? "Native AOT" : "ReadyToRun")}: {(p.Succeeded ? "published" : "**failed**")}{size}, {p.Warnings.Count} warning(s), {p.Errors.Count} error(s){(p.Cached ? " (reused from an earlier run: src/ unchanged)" : Invariant($", {p.Seconds:0} s"))}. `{p.Command}`"));
                foreach (var line in p.Warnings.Concat(p.Errors))
                {
                    md.AppendLine(Invariant($"  - `{line}`"));
                }
            }
        }

        md.AppendLine();
        md.AppendLine("### Targets");
        md.AppendLine();
        md.AppendLine("| target | measured | met |");
        md.AppendLine("|---|---:|:---:|");
        foreach (var (target, value, met) in Targets())
        {
            md.AppendLine(Invariant($"| {target} | {value} | {(met is null ? "n/a" : met.Value ? "yes" : "**no**")} |"));
        }

        md.AppendLine();
        md.AppendLine(Invariant($"Run time: {TotalSeconds:0} s in all, {MeasuredSeconds:0} s measuring."));
        return md.ToString();
    }

    public string Json() => JsonSerializer.Serialize(
        new
        {
            Started = started,
            Machine = new { Cores = Environment.ProcessorCount, Cpu = CpuModel(), Os = RuntimeInformation.OSDescription, Dotnet = Environment.Version.ToString(), Commit = Git() },
            Settings = new
            {
                options.Repetitions,
                DurationSeconds = options.Duration.TotalSeconds,
                InitialWarmUpSeconds = options.InitialWarmUp.TotalSeconds,
                WarmUpSeconds = options.WarmUp.TotalSeconds,
                options.Concurrency,
                HttpClients = options.HttpClientsPerWorker ? "per-worker" : "shared",
                ProtocolVersion = options.ProtocolVersion ?? "sdk-default",
                options.StartupRounds,
            },
            Load = _cells.Select(c => new
            {
                c.Server,
                c.Transport,
                c.Workload,
                c.Concurrency,
                Median = new { c.CallsPerSecond, c.P50Ms, c.P99Ms, c.ServerCpuUsPerCall, c.ClientCpuUsPerCall, c.OtherCpuPercent, c.DatabaseCpuUsPerCall, c.Errors },
                c.Samples,
            }),
            Ratios = Ratios().Select(r => new { r.Transport, r.Concurrency, PointQueryOverHello = r.Ratio, Rows1000OverHello = r.RowsRatio }),
            Postgres = Postgres is { } pg ? new
            {
                pg.SkipReason,
                pg.ServerVersion,
                pg.SeedSeconds,
                pg.Rows,
                Workloads = pg.Workloads.Select(w => new { w.Name, w.Target, w.Concurrency, w.Statement, MinCallsPerSecond = w.Throughput?.CallsPerSecond, ThroughputConcurrency = w.Throughput?.Concurrency }),
                Ratios = PostgresRatios().Select(r => new { r.Workload, r.Concurrency, r.Target, StdioOverRaw = r.Stdio, HttpOverRaw = r.Http }),
            } : null,
            Ingest = Ingest is { } ingest ? new
            {
                ingest.PayloadBytes,
                ingest.Example,
                ingest.FillEvents,
                ingest.FillConcurrency,
                ingest.FillSeconds,
                ingest.FillEventsPerSecond,
                ingest.FileBytes,
                ingest.FileBytesPerThousand,
                ingest.FileBytesAfterRun,
                ingest.EventsAfterRun,
                ingest.StoreConcurrency,
                ingest.McpConcurrency,
                MinEventsPerSecond = IngestBench.Target,
                BestStoreConcurrency = BestStoreCell()?.Concurrency,
            } : null,
            Listeners = Listeners is { } listeners ? new
            {
                listeners.Rate,
                listeners.CellSeconds,
                listeners.WarmUpSeconds,
                listeners.SettleSeconds,
                CoalesceMs = ListenersBench.ServerCoalesce.TotalMilliseconds,
                listeners.Cells,
                listeners.Idle,
                listeners.IdleAttachSeconds,
                listeners.RssKbPerListener,
                listeners.AnonKbPerListener,
                listeners.StrayNotifications,
                TargetP99Ms = ListenersBench.TargetP99Ms,
                ListenersBench.TargetListeners,
            } : null,
            Bytes = Bytes is { } b ? new
            {
                b.Rows,
                b.CompactBytes,
                b.RowsArrayBytes,
                b.ObjectsCompactBytes,
                b.ObjectsIndentedBytes,
                b.TextContentBytes,
                b.WireResponseBytes,
                b.PointWireResponseBytes,
                b.TextEqualsStructured,
                b.CompactPerRow,
                b.ObjectsCompactPerRow,
                b.ObjectsIndentedPerRow,
                CompactOverObjects = b.RatioToObjects,
                CompactOverIndentedObjects = b.RatioToIndentedObjects,
            } : null,
            Startup,
            Memory,
            Publishes,
            Targets = Targets().Select(t => new { t.Target, t.Value, t.Met }),
            TotalSeconds,
            MeasuredSeconds,
        },
        JsonOptions);

    private static bool IsIngest(Cell cell) => cell.Workload is IngestBench.StoreWorkload or IngestBench.McpWorkload;

    /// <summary>The in-process store's cell with the most events/s (the target is judged there).</summary>
    private Cell? BestStoreCell() =>
        _cells.Where(c => c.Workload == IngestBench.StoreWorkload && !double.IsNaN(c.CallsPerSecond)).MaxBy(c => c.CallsPerSecond);

    private void AppendIngest(StringBuilder md)
    {
        if (Ingest is not { } ingest)
        {
            return;
        }

        md.AppendLine();
        md.AppendLine("### Topic ingest: durable appends to SQLite (`SqliteEventStore`), in process and through `publish_event`");
        md.AppendLine();
        md.AppendLine(Invariant($"Each call appends one `{IngestBench.EventType}` event to the topic `{IngestBench.Topic}` and returns once it is committed (one writer, up to 1,024 queued appends per transaction, WAL, synchronous=NORMAL). Payload: {ingest.PayloadBytes:0} bytes of JSON on average, {IngestBench.PayloadCount:N0} seeded variants, such as `{ingest.Example}`."));
        md.AppendLine();
        md.AppendLine(Invariant($"- *{IngestBench.StoreServer}, {IngestBench.StoreTransport}*: `AppendAsync` straight into the store, in the load generator's process, c = {string.Join(", ", ingest.StoreConcurrency)} appenders (closed loop). The store's ceiling. *process CPU* is the whole load generator process (the appenders and the store's writer)."));
        md.AppendLine(Invariant($"- *Tributary, stdio / HTTP*: `publish_event {{topic, type, data}}` over the SDK client, c = {string.Join(", ", ingest.McpConcurrency)}; Tributary (JIT build) started with `--config` holding `topics: {{ {IngestBench.Topic}: {{}} }}` and a `server.data_dir` of its own. *process CPU* is the Tributary server's, *client CPU* the load generator's."));
        md.AppendLine(Invariant($"- *The stores' state*: every store (in process, and each server's) starts from a copy of one file filled with {ingest.FillEvents:N0} events, the default retention of a topic, so every cell runs at the steady state of a topic in use: each 1,000 appends, retention deletes the oldest 1,000."));
        md.AppendLine();
        md.AppendLine("| side | transport | c | events/s | p50 ms | p99 ms | process CPU µs/event | client CPU µs/event | other CPU % | errors |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        var cells = _cells.Where(IsIngest).ToList();
        foreach (var c in cells.OrderBy(c => c.Transport switch { IngestBench.StoreTransport => 0, "stdio" => 1, _ => 2 }).ThenBy(c => c.Concurrency))
        {
            var inProcess = c.Transport == IngestBench.StoreTransport;
            var process = inProcess ? c.ClientCpuUsPerCall : c.ServerCpuUsPerCall;
            var client = inProcess ? "–" : Invariant($"{c.ClientCpuUsPerCall:N0}");
            md.AppendLine(Invariant($"| {c.Server} | {c.Transport} | {c.Concurrency} | {c.CallsPerSecond:N0} | {c.P50Ms:0.00} | {c.P99Ms:0.00} | {process:N1} | {client} | {c.OtherCpuPercent:0} | {c.Errors} |"));
        }

        AppendNoise(md, cells);
        md.AppendLine();
        if (BestStoreCell() is { } best)
        {
            var mcp = cells.Where(c => c.Transport != IngestBench.StoreTransport && !double.IsNaN(c.CallsPerSecond)).GroupBy(c => c.Transport)
                .Select(g => g.MaxBy(c => c.CallsPerSecond)!)
                .Select(c => Invariant($"{c.Transport} {c.CallsPerSecond:N0} events/s at c={c.Concurrency} ({Pct(c.CallsPerSecond / best.CallsPerSecond)})"));
            md.AppendLine(Invariant($"Store ceiling: {best.CallsPerSecond:N0} events/s at c={best.Concurrency} (target ≥ {IngestBench.Target:N0}). Best through `publish_event`, ÷ that ceiling: {string.Join(", ", mcp.DefaultIfEmpty("not run"))}."));
            md.AppendLine();
        }

        var afterRun = ingest.FileBytesAfterRun is { } after && ingest.EventsAfterRun is { } events
            ? Invariant($" The in-process store after the run: {after / 1048576.0:0.0} MB for {events:N0} events.")
            : "";
        md.AppendLine(Invariant($"File: {ingest.FillEvents:N0} events appended to an empty store (c={ingest.FillConcurrency}) took {ingest.FillSeconds:0.0} s ({ingest.FillEventsPerSecond:N0} events/s, opening and closing included) and left a {ingest.FileBytes / 1048576.0:0.0} MB file (WAL checkpointed): **{ingest.FileBytesPerThousand / 1024:0.0} KB per 1,000 events** ({(double)ingest.FileBytes / ingest.FillEvents:0} bytes per event for {ingest.PayloadBytes:0} bytes of payload; the rest is the other columns, the row and the (topic, seq) index).{afterRun}"));
    }

    private void AppendListeners(StringBuilder md)
    {
        if (Listeners is not { } part)
        {
            return;
        }

        var coalesce = ListenersBench.ServerCoalesce.TotalMilliseconds;
        md.AppendLine();
        md.AppendLine("### Topic listeners: publish → notification over 2026-07-28 `subscriptions/listen`, one node");
        md.AppendLine();
        md.AppendLine(Invariant($"One Tributary HTTP server (JIT build, `--config` with `topics: {{ {ListenersBench.Topic}: {{}} }}` and a `server.data_dir` of its own). Each listener is one `subscriptions/listen` request for `{ListenersBench.TopicUri}` (with the 2026-07-28 `_meta` an SDK client sends) held open by the load generator, which reads its SSE response as bytes and recognises each message by its method, URI and subscription id without a JSON parse: a full SDK client per listener cost the load generator as much CPU per notification as the server (22 µs each at 1,000 listeners on 2026-11-23, p99 34.5 ms), on the same two cores. One shared `SocketsHttpHandler`, one TCP connection per listener. A separate SDK client calls `publish_event {{topic: \"{ListenersBench.Topic}\", type: \"{ListenersBench.EventType}\", data: {{n}}}}` up to {part.Rate:0} times a second ({1000 / part.Rate:0} ms apart, at least {ListenersBench.MinGap.TotalMilliseconds:0} ms), {part.CellSeconds * part.Rate:0} publishes per cell, each sent only once every listener has had its notification of the one before (or after {ListenersBench.GateTimeout.TotalSeconds:0} s): so two publishes never fall into one {coalesce:0} ms throttle interval or one lagging read, each should give each listener exactly one notification, and a notification arriving between two sends belongs to the first, an exact match (*publishes/s* is the rate reached; below {part.Rate:0} when the slowest listener took longer than {1000 / part.Rate:0} ms). Latency: the read that completed that notification − the moment its publish was sent, one clock (all clients are in the load generator). *lost*: a (publish, listener) without a notification before the next publish; *extra*: any further notification. Before the cells: {part.WarmUpSeconds:0.#} s of the same publishing to {ListenersBench.IdleListeners:N0} listeners (tiered JIT), not recorded."));
        md.AppendLine();
        md.AppendLine(Invariant($"*fan-out spread*: per publish, last − first listener's latency (median over publishes); *last listener*: per publish, the slowest listener's latency (median, p99). The server notifies the first event after a quiet spell at once and at most one more per {coalesce:0} ms (`TopicSubscriptions.Coalesce`; before commit 3b89dea it waited {coalesce:0} ms after every event, which made {coalesce:0} ms the floor of every latency). *server CPU* is the Tributary process over the window (publishes included), *client CPU* the load generator's."));
        md.AppendLine();
        md.AppendLine("| listeners | publishes/s | notifications received / expected | lost | extra | p50 ms | p95 ms | p99 ms | max ms | min ms | fan-out spread p50 ms | last listener p50 / p99 ms | publish_event p50 / p99 ms | server CPU % of a core | server CPU µs/notification | client CPU µs/notification | other CPU % |");
        md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var c in part.Cells)
        {
            md.AppendLine(Invariant($"| {c.Listeners:N0} | {c.PublishesPerSecond:0.0} | {c.Received:N0} / {c.Expected:N0} | {c.Lost:N0} | {c.Extra:N0} | {c.P50Ms:0.0} | {c.P95Ms:0.0} | {c.P99Ms:0.0} | {c.MaxMs:0.0} | {c.MinMs:0.0} | {c.SpreadP50Ms:0.0} | {c.LastListenerP50Ms:0.0} / {c.LastListenerP99Ms:0.0} | {c.PublishP50Ms:0.0} / {c.PublishP99Ms:0.0} | {c.ServerCpuPercent:0} | {c.ServerCpuUsPerNotification:N0} | {c.ClientCpuUsPerNotification:N0} | {c.OtherCpuPercent:0} |"));
        }

        var noisy = part.Cells.Where(c => c.OtherCpuPercent > 10).ToList();
        if (noisy.Count > 0)
        {
            md.AppendLine();
            md.AppendLine(Invariant($"**Noise:** other processes used more than 10 % of a core during {string.Join(", ", noisy.Select(c => $"{c.Listeners:N0} listener(s) ({c.OtherCpuPercent:0} %)"))}. Treat those figures with care."));
        }

        if (part.StrayNotifications > 0)
        {
            md.AppendLine();
            md.AppendLine(Invariant($"{part.StrayNotifications:N0} notification(s) arrived for a listener already closed (or not of the expected shape) and were not counted."));
        }

        if (part.Idle is [var none, var some])
        {
            md.AppendLine();
            md.AppendLine(Invariant($"Memory of the server (`/proc/PID/status`), each after {part.SettleSeconds:0} s idle; the listeners were opened in {part.IdleAttachSeconds:0.0} s ({ListenersBench.AttachParallelism} awaiting their acknowledgement at a time). The GC heap alone is not read (that needs an EventPipe session); RssAnon (GC heap, native allocations, thread stacks) bounds it."));
            md.AppendLine();
            md.AppendLine("| idle listeners | VmRSS MB | RssAnon MB | threads |");
            md.AppendLine("|---:|---:|---:|---:|");
            md.AppendLine(Invariant($"| {none.Listeners:N0} | {none.RssKb / 1024.0:0.0} | {none.AnonKb / 1024.0:0.0} | {none.Threads} |"));
            md.AppendLine(Invariant($"| {some.Listeners:N0} | {some.RssKb / 1024.0:0.0} | {some.AnonKb / 1024.0:0.0} | {some.Threads} |"));
            md.AppendLine();
            md.AppendLine(Invariant($"**Per idle listener: {part.RssKbPerListener:0.0} KB of RSS** ({part.AnonKbPerListener:0.0} KB anonymous)."));
        }
    }

    private static bool IsPostgres(Cell cell) => cell.Server == PostgresBench.RawServer || cell.Workload.StartsWith("pg ", StringComparison.Ordinal);

    private static void AppendNoise(StringBuilder md, List<Cell> cells)
    {
        var noisy = cells.Where(c => c.OtherCpuPercent > 10).ToList();
        if (noisy.Count > 0)
        {
            md.AppendLine();
            md.AppendLine(Invariant($"**Noise:** in {noisy.Count} cell(s) other processes used more than 10 % of a core (median over the repetitions; see 'other CPU %'): {string.Join(", ", noisy.Select(c => $"{c.Server} {c.Transport} {c.Workload} c={c.Concurrency}"))}. Treat those figures with care."));
        }
    }

    /// <summary>The concurrency a PostgreSQL workload's target applies at: the highest it ran at.</summary>
    private int PostgresTargetConcurrency(string workload) =>
        Postgres?.Workloads.FirstOrDefault(w => w.Name == workload) is { } w ? w.Concurrency.Max() : options.Concurrency.Max();

    private IEnumerable<(string Workload, int Concurrency, double? Target, double? Stdio, double? Http)> PostgresRatios() =>
        from w in Postgres?.Workloads ?? []
        from c in w.Concurrency
        let raw = Find(PostgresBench.RawServer, PostgresBench.RawTransport, w.Name, c)?.CallsPerSecond
        where raw is > 0
        let stdio = Find("Tributary", "stdio", w.Name, c)?.CallsPerSecond
        let http = Find("Tributary", "HTTP", w.Name, c)?.CallsPerSecond
        select (w.Name, c, w.Target, stdio / raw, http / raw);

    private void AppendPostgres(StringBuilder md)
    {
        if (Postgres is not { } pg)
        {
            return;
        }

        md.AppendLine();
        md.AppendLine("### PostgreSQL: Tributary against raw Npgsql, same statements, same run");
        md.AppendLine();
        if (pg.SkipReason is { } reason)
        {
            md.AppendLine(Invariant($"Skipped: {reason}."));
            return;
        }

        md.AppendLine(Invariant($"PostgreSQL {pg.ServerVersion}, a throwaway server (tests/Common `PostgresServer`: fsync off, shared_buffers 64 MB) on the same two cores; `orders` with {pg.Rows:N0} rows and 8 columns, seeded in {pg.SeedSeconds:0.0} s. Workloads:"));
        md.AppendLine();
        foreach (var w in pg.Workloads)
        {
            md.AppendLine(Invariant($"- *{w.Name}*: {w.Statement}."));
        }

        md.AppendLine();
        md.AppendLine(Invariant($"- *{PostgresBench.RawServer}, {PostgresBench.RawTransport}*: the load generator runs the same statements itself through one pooled `NpgsqlDataSource` (statements auto-prepared, the id as a typed `$1` parameter), reads every value with its typed getter and writes it with `Utf8JsonWriter` into a reused buffer in Tributary's compact shape (a write: the row before and after as objects). No server process: its whole cost is in the client CPU column."));
        md.AppendLine("- *Tributary*: the tools over the SDK client (JIT build, one `postgres` source, `orders` writable). Tributary runs each query in a read-only transaction (BEGIN READ ONLY, the statement, ROLLBACK, sent as one batch; `statement_timeout` is a startup option of its connections) and wraps a SELECT in a page query (`SELECT * FROM (...) LIMIT max_rows+1 OFFSET n`). Both sides use Max Auto Prepare=64 and No Reset On Close. `update_rows` runs two batches (BEGIN, `SELECT t.*, t.xmin::text ... FOR UPDATE`; then `UPDATE ... RETURNING t.*, t.xmin::text`, COMMIT) and appends an audit entry to state.db (SQLite, WAL, synchronous=NORMAL) before it answers.");
        md.AppendLine("- *PostgreSQL CPU µs/call*: user + system CPU of the postmaster and all its processes over the window ÷ calls.");
        md.AppendLine();
        md.AppendLine("| side | transport | workload | c | calls/s | p50 ms | p99 ms | server CPU µs/call | client CPU µs/call | PostgreSQL CPU µs/call | other CPU % | errors |");
        md.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var cells = _cells.Where(IsPostgres).ToList();
        foreach (var c in cells.OrderBy(c => pg.Workloads.ToList().FindIndex(w => w.Name == c.Workload)).ThenBy(c => c.Concurrency).ThenBy(c => c.Transport switch { PostgresBench.RawTransport => 0, "stdio" => 1, _ => 2 }))
        {
            var server = double.IsNaN(c.ServerCpuUsPerCall) ? "–" : Invariant($"{c.ServerCpuUsPerCall:N0}");
            md.AppendLine(Invariant($"| {c.Server} | {c.Transport} | {c.Workload} | {c.Concurrency} | {c.CallsPerSecond:N0} | {c.P50Ms:0.00} | {c.P99Ms:0.00} | {server} | {c.ClientCpuUsPerCall:N0} | {c.DatabaseCpuUsPerCall:N0} | {c.OtherCpuPercent:0} | {c.Errors} |"));
        }

        AppendNoise(md, cells);
        md.AppendLine();
        md.AppendLine(Invariant($"#### Tributary ÷ raw Npgsql, calls/s (targets: point query ≥ {Pct(PostgresBench.PointTarget)}, 1000-row result ≥ {Pct(PostgresBench.RowsTarget)}, at the highest concurrency; update_rows has no ratio target, its target is ≥ {PostgresBench.WriteTarget:N0} writes/s through Tributary at c={PostgresBench.WriteTargetConcurrency}: see Targets)"));
        md.AppendLine();
        md.AppendLine("| workload | c | stdio ÷ raw | HTTP ÷ raw | target |");
        md.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var (workload, c, target, stdio, http) in PostgresRatios())
        {
            var atTarget = target is not null && c == PostgresTargetConcurrency(workload);
            string Fig(double? ratio) => ratio is not { } r ? "n/a" : atTarget && r < target ? $"**{Pct(r)}**" : Pct(r);
            md.AppendLine(Invariant($"| {workload} | {c} | {Fig(stdio)} | {Fig(http)} | {(atTarget ? "≥ " + Pct(target!.Value) : "")} |"));
        }

        if (!pg.Workloads.Any(w => w.Name is PostgresBench.PointWorkload or PostgresBench.RowsWorkload))
        {
            return;
        }

        md.AppendLine();
        md.AppendLine("The peers for context (from the team's field notes, measured on a machine like this one: PostgreSQL 15, 1M orders, c=32, each ÷ raw node-pg in the same run; note that raw Npgsql here is a higher bar than raw node-pg there):");
        md.AppendLine();
        md.AppendLine("| c=32 | raw node-pg | " + string.Join(" | ", PeerFigures.Select(p => p.Name)) + " |");
        md.AppendLine("|---|---:|" + string.Concat(PeerFigures.Select(_ => "---:|")));
        md.AppendLine(Invariant($"| point query, calls/s (÷ raw) | {PeerRawPoint:N0} | ") + string.Join(" | ", PeerFigures.Select(p => Invariant($"{p.Point:N0} ({Pct(p.Point / PeerRawPoint)})"))) + " |");
        md.AppendLine(Invariant($"| 1000-row result, calls/s (÷ raw) | {PeerRawRows:N0} | ") + string.Join(" | ", PeerFigures.Select(p => Invariant($"{p.Rows:N0} ({Pct(p.Rows / PeerRawRows)})"))) + " |");
    }

    // The peers' figures from /work/shared/FIELD-NOTES.md ("The peers, measured here").
    private const double PeerRawPoint = 6_924;
    private const double PeerRawRows = 187;

    private static readonly (string Name, double Point, double Rows)[] PeerFigures =
    [
        ("server-postgres", 2_741, 79),
        ("dbhub stdio", 3_622, 88),
        ("dbhub stdio read-only", 2_146, 92),
        ("dbhub HTTP", 527, 87),
    ];

    private static string Pct(double ratio) => ratio.ToString("0 %", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }

    private string Git()
    {
        try
        {
            var info = new ProcessStartInfo("git", "rev-parse --short HEAD") { WorkingDirectory = paths.Root, RedirectStandardOutput = true, UseShellExecute = false };
            using var process = Process.Start(info)!;
            var head = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            var status = new ProcessStartInfo("git", "status --porcelain -- src Directory.Build.props Directory.Packages.props") { WorkingDirectory = paths.Root, RedirectStandardOutput = true, UseShellExecute = false };
            using var statusProcess = Process.Start(status)!;
            var dirty = statusProcess.StandardOutput.ReadToEnd().Trim().Length > 0;
            statusProcess.WaitForExit();
            return dirty ? $"{head} with uncommitted changes in src/" : head;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }

    /// <summary>One cell of the load matrix; its figures are medians over the repetitions.</summary>
    private sealed class Cell(string server, string transport, string workload, int concurrency)
    {
        public string Server { get; } = server;

        public string Transport { get; } = transport;

        public string Workload { get; } = workload;

        public int Concurrency { get; } = concurrency;

        public List<Sample> Samples { get; } = [];

        public double CallsPerSecond => LoadRunner.Median(Samples.Select(s => s.CallsPerSecond));

        public double P50Ms => LoadRunner.Median(Samples.Select(s => s.P50Ms));

        public double P99Ms => LoadRunner.Median(Samples.Select(s => s.P99Ms));

        public double ServerCpuUsPerCall => LoadRunner.Median(Samples.Select(s => s.ServerCpuUsPerCall ?? double.NaN));

        public double ClientCpuUsPerCall => LoadRunner.Median(Samples.Select(s => s.ClientCpuUsPerCall));

        public long Errors => Samples.Sum(s => s.Errors);

        public double OtherCpuPercent => LoadRunner.Median(Samples.Select(s => s.OtherCpuPercent ?? double.NaN));

        public double DatabaseCpuUsPerCall => LoadRunner.Median(Samples.Select(s => s.DatabaseCpuUsPerCall ?? double.NaN));
    }
}

/// <summary>The PostgreSQL part of a run.</summary>
/// <param name="SkipReason">Why it did not run; null when it ran.</param>
/// <param name="ServerVersion">PostgreSQL's server_version.</param>
/// <param name="SeedSeconds">Time to create, fill, index and analyse the benchmark table.</param>
/// <param name="Rows">Rows of the benchmark table.</param>
/// <param name="Workloads">The workloads that ran.</param>
internal sealed record PostgresPart(string? SkipReason, string? ServerVersion, double SeedSeconds, int Rows, IReadOnlyList<PgWorkloadInfo> Workloads);

/// <summary>A PostgreSQL workload as the report describes it.</summary>
/// <param name="Name">The workload's label.</param>
/// <param name="Target">Tributary ÷ raw calls/s to reach at the highest concurrency; null: none.</param>
/// <param name="Concurrency">The concurrencies it ran at.</param>
/// <param name="Statement">What both sides run (Markdown).</param>
/// <param name="Throughput">A target on Tributary's own calls/s; null: none.</param>
internal sealed record PgWorkloadInfo(string Name, double? Target, int[] Concurrency, string Statement, ThroughputTarget? Throughput);
