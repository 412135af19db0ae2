using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Tributary.Bench;

/// <summary>
/// The topic-listener part of the benchmark: 2026-07-28 <c>subscriptions/listen</c> requests on
/// <c>tributary://topics/orders</c> of one Tributary HTTP server are held open while a separate SDK client publishes to
/// the topic at a steady, gentle rate; every <c>notifications/resources/updated</c> a listener receives is timed against
/// the moment its publish was sent (all clients live in this process, so one clock). Also the server's memory with no
/// listener and with <see cref="IdleListeners"/> idle ones.
/// </summary>
/// <remarks>
/// Each listener is one POST of a JSON-RPC <c>subscriptions/listen</c> request (with the 2026-07-28 <c>_meta</c> the SDK
/// client sends) whose SSE response is read as bytes: an event is recognised by its method and checked for its URI and
/// subscription id, without a JSON parse. The load generator shares the two cores with the server, and a full SDK client
/// per listener spent as much CPU per notification as the server did; the lean reader leaves the cores to the server.
/// Every listener shares one <see cref="SocketsHttpHandler"/> without a connection cap: one TCP connection per listener.
/// </remarks>
internal sealed class ListenersBench : IAsyncDisposable
{
    public const string Topic = "orders";
    public const string TopicUri = "tributary://topics/orders";
    public const string EventType = "tick";

    /// <summary>The target: p99 publish→notification at <see cref="TargetListeners"/> listeners.</summary>
    public const double TargetP99Ms = 20;
    public const int TargetListeners = 1000;

    /// <summary>Listeners for the memory figure.</summary>
    public const int IdleListeners = 1000;

    /// <summary>Listen requests being set up at once (acknowledgement not yet received).</summary>
    public const int AttachParallelism = 64;

    /// <summary>Publishes per second: 50 ms apart, more than the server's 20 ms throttle interval.</summary>
    public const double PublishesPerSecond = 20;

    /// <summary>Least time between two publishes: twice the throttle interval.</summary>
    public static readonly TimeSpan MinGap = TimeSpan.FromMilliseconds(40);

    /// <summary>How long a publish waits for every listener's notification of the one before (then it goes anyway).</summary>
    public static readonly TimeSpan GateTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The server's throttle interval: at most one notification per subscription per this (TopicSubscriptions.Coalesce in src/).</summary>
    public static readonly TimeSpan ServerCoalesce = TimeSpan.FromMilliseconds(20);

    /// <summary>Listener counts of the cells.</summary>
    public static readonly int[] ListenerCounts = [1, 100, 1000];

    private readonly HttpServerProcess _server;
    private readonly HttpClient _listenerHttp;
    private readonly ConcurrentDictionary<string, Listener> _active = new(StringComparer.Ordinal);
    private readonly CallToolRequestParams[] _publishes;
    private McpClient? _publisher;
    private long _stray;
    private long _arrived;
    private long _awaited = long.MaxValue;
    private TaskCompletionSource _allArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _nextId;

    private ListenersBench(HttpServerProcess server, int publishCount)
    {
        _server = server;
        _listenerHttp = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
            ConnectTimeout = TimeSpan.FromSeconds(30),
            UseProxy = false,
        })
        {
            // A listen request's response stays open for the whole cell.
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _publishes = [.. Enumerable.Range(0, publishCount).Select(n => new CallToolRequestParams
        {
            Name = "publish_event",
            Arguments = new Dictionary<string, JsonElement>
            {
                ["topic"] = JsonElement.Parse(JsonSerializer.Serialize(Topic)),
                ["type"] = JsonElement.Parse(JsonSerializer.Serialize(EventType)),
                ["data"] = JsonElement.Parse(string.Create(CultureInfo.InvariantCulture, $"{{\"n\":{n}}}")),
            },
        })];
    }

    /// <summary>
    /// Runs the part against a JIT Tributary started with <c>--http 127.0.0.1:0 --config</c> (a file under
    /// <paramref name="directory"/> with <c>topics: { orders: {} }</c> and a data_dir beside it), then stops the server and
    /// deletes <paramref name="directory"/>.
    /// </summary>
    public static async Task<ListenersPart> RunAsync(ServerVariant tributary, string directory, HttpClient publisherHttp, bool quick)
    {
        var settings = quick
            ? new ListenerSettings(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2), PublishesPerSecond)
            : new ListenerSettings(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), PublishesPerSecond);
        Directory.CreateDirectory(directory);
        try
        {
            var config = Path.Combine(directory, "tributary.yaml");
            await File.WriteAllTextAsync(config, $$"""
                # Written by tributary-bench (bench/Tributary.Bench/Listeners.cs) for one run; deleted with it.
                server:
                  data_dir: {{JsonSerializer.Serialize(Path.Combine(directory, "data"))}}
                topics:
                  {{Topic}}: {}

                """);
            var server = await HttpServerProcess.StartAsync(tributary with { Config = config }, directory, TimeSpan.FromSeconds(60));
            var publishCount = (int)Math.Ceiling(Math.Max(settings.CellDuration.TotalSeconds, settings.WarmUp.TotalSeconds) * settings.Rate);
            await using var bench = new ListenersBench(server, publishCount);
            return await bench.MeasureAsync(publisherHttp, settings);
        }
        finally
        {
            RepoPaths.DeleteScratch(directory);
        }
    }

    private async Task<ListenersPart> MeasureAsync(HttpClient publisherHttp, ListenerSettings settings)
    {
        _publisher = await Clients.ConnectHttpAsync(_server.Endpoint, publisherHttp, CancellationToken.None);
        Console.Error.WriteLine($"topic listeners: Tributary pid {_server.Pid} at {_server.Endpoint}; listeners are raw listen requests, the publisher an SDK client");

        // Memory: the publish path used once (20 publishes, nobody listening), settle, read; 1,000 idle listeners, settle, read.
        for (var i = 0; i < 20; i++)
        {
            await PublishOneAsync(i, CancellationToken.None);
        }

        await Task.Delay(settings.Settle);
        var idle0 = ReadMemory(0);
        var attach = await AttachAsync(IdleListeners);
        await Task.Delay(settings.Settle);
        var idleN = ReadMemory(IdleListeners);
        Console.Error.WriteLine($"  memory: {idle0.RssKb / 1024.0:0.0} MB with no listener, {idleN.RssKb / 1024.0:0.0} MB with {IdleListeners:N0} idle ({(idleN.RssKb - idle0.RssKb) / (double)IdleListeners:0.0} KB each); attaching them took {attach.TotalSeconds:0.00} s");

        // Warm-up (tiered JIT): the largest cell's load with the listeners already attached; not recorded.
        Console.Error.WriteLine($"  warm-up: {settings.WarmUp.TotalSeconds:0.#} s of publishes at {settings.Rate:0} /s to {IdleListeners:N0} listeners");
        await RunWindowAsync((int)(settings.WarmUp.TotalSeconds * settings.Rate), settings.Rate);
        await DetachAsync();

        var cells = new List<ListenerCell>();
        foreach (var count in ListenerCounts)
        {
            var attachTime = await AttachAsync(count);
            await Task.Delay(TimeSpan.FromSeconds(1));
            var cell = await MeasureCellAsync(count, (int)(settings.CellDuration.TotalSeconds * settings.Rate), settings.Rate, attachTime);
            cells.Add(cell);
            Console.Error.WriteLine(
                $"  {count,5} listener(s): {cell.Received:N0}/{cell.Expected:N0} notifications (lost {cell.Lost}, extra {cell.Extra}), {cell.PublishesPerSecond:0.0} publishes/s, p50 {cell.P50Ms:0.0} ms  p95 {cell.P95Ms:0.0}  p99 {cell.P99Ms:0.0}  max {cell.MaxMs:0.0}  fan-out spread p50 {cell.SpreadP50Ms:0.0} ms  server {cell.ServerCpuPercent:0} % of a core ({cell.ServerCpuUsPerNotification:0} us/notification)  client {cell.ClientCpuUsPerNotification:0} us/notification  other {cell.OtherCpuPercent:0} %");
            await DetachAsync();
        }

        return new ListenersPart(
            Rate: settings.Rate,
            CellSeconds: settings.CellDuration.TotalSeconds,
            WarmUpSeconds: settings.WarmUp.TotalSeconds,
            SettleSeconds: settings.Settle.TotalSeconds,
            Cells: cells,
            Idle: [idle0, idleN],
            IdleAttachSeconds: attach.TotalSeconds,
            StrayNotifications: Interlocked.Read(ref _stray));
    }

    /// <summary>Opens <paramref name="count"/> listen requests (at most <see cref="AttachParallelism"/> unacknowledged at once) and waits for every acknowledgement.</summary>
    private async Task<TimeSpan> AttachAsync(int count)
    {
        var started = Stopwatch.GetTimestamp();
        using var gate = new SemaphoreSlim(AttachParallelism);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var waits = new List<Task>(count);
        for (var i = 0; i < count; i++)
        {
            await gate.WaitAsync(timeout.Token);
            var id = string.Create(CultureInfo.InvariantCulture, $"listener-{Interlocked.Increment(ref _nextId)}");
            var listener = new Listener(id);
            _active[id] = listener;
            listener.Request = ListenAsync(listener);
            waits.Add(Task.Run(async () =>
            {
                try
                {
                    var first = await Task.WhenAny(listener.Acknowledged.Task, listener.Request).WaitAsync(timeout.Token);
                    if (first != listener.Acknowledged.Task)
                    {
                        // The request ended before its acknowledgement: surface why.
                        await listener.Request;
                        throw new InvalidOperationException($"subscriptions/listen {id} ended without an acknowledgement");
                    }
                }
                finally
                {
                    gate.Release();
                }
            }));
        }

        await Task.WhenAll(waits);
        return Stopwatch.GetElapsedTime(started);
    }

    /// <summary>Closes every open listen request (the client cancels it, which aborts its HTTP request) and waits for them to end.</summary>
    private async Task DetachAsync()
    {
        var listeners = _active.Values.ToList();
        foreach (var listener in listeners)
        {
            await listener.Stop.CancelAsync();
        }

        foreach (var listener in listeners)
        {
            try
            {
                await listener.Request!.WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (OperationCanceledException)
            {
                // What a closed listen request ends with.
            }

            _active.TryRemove(listener.Id, out _);
            listener.Stop.Dispose();
        }

        // Give the server a moment to see the aborted requests and end their subscriptions.
        await Task.Delay(TimeSpan.FromMilliseconds(500));
    }

    private async Task<ListenerCell> MeasureCellAsync(int count, int publishes, double rate, TimeSpan attachTime)
    {
        var listeners = _active.Values.ToList();
        var serverCpu0 = ProcFs.CpuTime(_server.Pid);
        var clientCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var machine0 = ProcFs.MachineBusy();
        var window = Stopwatch.StartNew();
        var (sent, publishMs) = await RunWindowAsync(publishes, rate);
        var elapsed = window.Elapsed;
        var serverCpu = ProcFs.CpuTime(_server.Pid) - serverCpu0;
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime - clientCpu0;
        var machine = ProcFs.MachineBusy() - machine0;

        // Publish k is sent only once every listener has had its notification of k - 1, so a notification arriving
        // between the sends of k and k + 1 tells of k: exact, with no two publishes in one notification. The first one per
        // listener and publish is timed; any further one is extra; a publish without one (the gate timed out) is lost.
        var latencies = new List<double>(count * publishes);
        var perPublish = Enumerable.Range(0, publishes).Select(_ => new List<double>(count)).ToArray();
        long received = 0, extra = 0, lost = 0;
        foreach (var listener in listeners)
        {
            long[] arrivals;
            lock (listener.Arrivals)
            {
                arrivals = [.. listener.Arrivals];
            }

            Array.Sort(arrivals);
            received += arrivals.Length;
            var told = new bool[publishes];
            foreach (var arrival in arrivals)
            {
                var k = Array.BinarySearch(sent, arrival);
                k = k >= 0 ? k : ~k - 1;
                if (k < 0 || told[k])
                {
                    extra++;
                    continue;
                }

                told[k] = true;
                var ms = (arrival - sent[k]) * 1000.0 / Stopwatch.Frequency;
                latencies.Add(ms);
                perPublish[k].Add(ms);
            }

            lost += told.Count(t => !t);
        }

        var sorted = latencies.ToArray();
        Array.Sort(sorted);
        var spreads = perPublish.Where(p => p.Count > 0).Select(p => p.Max() - p.Min()).Order().ToArray();
        var lastListener = perPublish.Where(p => p.Count > 0).Select(p => p.Max()).Order().ToArray();
        Array.Sort(publishMs);
        var expected = (long)count * publishes;
        return new ListenerCell(
            Listeners: count,
            Publishes: publishes,
            Expected: expected,
            Received: received,
            Lost: lost,
            Extra: extra,
            PublishesPerSecond: publishes > 1 ? (publishes - 1) / ((sent[^1] - sent[0]) / (double)Stopwatch.Frequency) : double.NaN,
            P50Ms: LoadRunner.Percentile(sorted, 0.50),
            P95Ms: LoadRunner.Percentile(sorted, 0.95),
            P99Ms: LoadRunner.Percentile(sorted, 0.99),
            MaxMs: sorted.Length == 0 ? double.NaN : sorted[^1],
            MinMs: sorted.Length == 0 ? double.NaN : sorted[0],
            SpreadP50Ms: LoadRunner.Percentile(spreads, 0.50),
            LastListenerP50Ms: LoadRunner.Percentile(lastListener, 0.50),
            LastListenerP99Ms: LoadRunner.Percentile(lastListener, 0.99),
            PublishP50Ms: LoadRunner.Percentile(publishMs, 0.50),
            PublishP99Ms: LoadRunner.Percentile(publishMs, 0.99),
            WindowSeconds: elapsed.TotalSeconds,
            AttachSeconds: attachTime.TotalSeconds,
            ServerCpuPercent: serverCpu is { } s ? s.TotalSeconds / elapsed.TotalSeconds * 100 : double.NaN,
            ServerCpuUsPerNotification: serverCpu is { } s2 && received > 0 ? s2.TotalSeconds * 1e6 / received : double.NaN,
            ClientCpuUsPerNotification: received > 0 ? clientCpu.TotalSeconds * 1e6 / received : double.NaN,
            OtherCpuPercent: machine is { } m && serverCpu is { } sc ? Math.Max(0, (m - sc - clientCpu).TotalSeconds / elapsed.TotalSeconds * 100) : double.NaN);
    }

    /// <summary>
    /// Publish i is due at start + i / rate, but goes only when every listener has had its notification of publish i - 1
    /// (or <see cref="GateTimeout"/> has passed) and <see cref="MinGap"/> after the one before. So the publishes stay
    /// apart by more than the server's throttle interval, each one gives each listener exactly one notification, and a
    /// notification is told apart by when it arrives. Then waits for the last publish's notifications (at most
    /// <see cref="GateTimeout"/>) and 200 ms more for stragglers. Returns each publish's send time and its round trip.
    /// </summary>
    private async Task<(long[] Sent, double[] PublishMs)> RunWindowAsync(int publishes, double rate)
    {
        var listeners = _active.Values.ToList();
        foreach (var listener in listeners)
        {
            lock (listener.Arrivals)
            {
                listener.Arrivals.Clear();
            }
        }

        var sent = new long[publishes];
        var publishMs = new double[publishes];
        var calls = new Task[publishes];
        Volatile.Write(ref _awaited, long.MaxValue);
        Interlocked.Exchange(ref _arrived, 0);
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i <= publishes; i++)
        {
            if (i > 0)
            {
                try
                {
                    await _allArrived.Task.WaitAsync(GateTimeout);
                }
                catch (TimeoutException)
                {
                    // Some listener missed it: counted as lost.
                }
            }

            if (i == publishes)
            {
                break;
            }

            var due = Math.Max(start + (long)(i * Stopwatch.Frequency / rate), i == 0 ? start : sent[i - 1] + (long)(MinGap.TotalSeconds * Stopwatch.Frequency));
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }

            // The gate of this publish: one more notification per listener than so far.
            Volatile.Write(ref _allArrived, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            Volatile.Write(ref _awaited, (long)(i + 1) * listeners.Count);
            if (Interlocked.Read(ref _arrived) >= Volatile.Read(ref _awaited))
            {
                _allArrived.TrySetResult();
            }

            var index = i;
            sent[index] = Stopwatch.GetTimestamp();
            calls[index] = Task.Run(async () =>
            {
                await PublishOneAsync(index, CancellationToken.None);
                publishMs[index] = Stopwatch.GetElapsedTime(sent[index]).TotalMilliseconds;
            });
        }

        await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(60));
        await Task.Delay(200);
        Volatile.Write(ref _awaited, long.MaxValue);
        return (sent, publishMs);
    }

    /// <summary>
    /// One listener: POSTs its <c>subscriptions/listen</c> request and reads the SSE response until <see cref="Listener.Stop"/>:
    /// the acknowledgement completes <see cref="Listener.Acknowledged"/>, each update of the topic with this listener's
    /// subscription id is timed.
    /// </summary>
    private async Task ListenAsync(Listener listener)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new JsonObject
        {
            ["jsonrpc"] = "2.0",
            ["id"] = listener.Id,
            ["method"] = RequestMethods.SubscriptionsListen,
            ["params"] = new JsonObject
            {
                ["notifications"] = new JsonObject { ["resourceSubscriptions"] = new JsonArray(JsonValue.Create(TopicUri)) },
                ["_meta"] = new JsonObject
                {
                    ["io.modelcontextprotocol/protocolVersion"] = "2026-07-28",
                    ["io.modelcontextprotocol/clientInfo"] = new JsonObject { ["name"] = "tributary-bench-listener", ["version"] = "1.0" },
                    ["io.modelcontextprotocol/clientCapabilities"] = new JsonObject(),
                },
            },
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, _server.Endpoint) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("MCP-Protocol-Version", "2026-07-28");
        request.Headers.Add("Mcp-Method", RequestMethods.SubscriptionsListen);
        using var response = await _listenerHttp.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, listener.Stop.Token);
        response.EnsureSuccessStatusCode();
        await using var stream = await response.Content.ReadAsStreamAsync(listener.Stop.Token);
        var tag = System.Text.Encoding.UTF8.GetBytes($"\"{MetaKeys.SubscriptionId}\":\"{listener.Id}\"");
        var buffer = new byte[16 * 1024];
        var filled = 0;
        while (true)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var read = await stream.ReadAsync(buffer.AsMemory(filled), listener.Stop.Token);
            if (read == 0)
            {
                return;
            }

            var timestamp = Stopwatch.GetTimestamp();
            filled += read;
            // SSE events end with a blank line; each one is a JSON-RPC message on a data: line.
            int end;
            var consumed = 0;
            while ((end = buffer.AsSpan(consumed, filled - consumed).IndexOf("\n\n"u8)) >= 0)
            {
                OnMessage(listener, buffer.AsSpan(consumed, end), tag, timestamp);
                consumed += end + 2;
            }

            buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
            filled -= consumed;
        }
    }

    private void OnMessage(Listener listener, ReadOnlySpan<byte> message, byte[] tag, long timestamp)
    {
        if (message.IndexOf("\"notifications/subscriptions/acknowledged\""u8) >= 0)
        {
            listener.Acknowledged.TrySetResult();
            return;
        }

        if (message.IndexOf("\"notifications/resources/updated\""u8) >= 0 && message.IndexOf(tag) >= 0 && message.IndexOf("\"uri\":\"tributary://topics/orders\""u8) >= 0)
        {
            OnUpdate(listener, timestamp);
        }
        else if (message.IndexOf("data:"u8) >= 0)
        {
            Interlocked.Increment(ref _stray);
        }
    }

    private async Task PublishOneAsync(int n, CancellationToken cancellationToken)
    {
        var result = await _publisher!.CallToolAsync(_publishes[n % _publishes.Length], cancellationToken);
        if (result.IsError == true || result.StructuredContent is not { } body || !body.TryGetProperty("sequence", out var sequence) || sequence.GetInt64() <= 0)
        {
            throw new InvalidOperationException($"publish_event failed: {(result.Content.FirstOrDefault() as TextContentBlock)?.Text ?? result.StructuredContent?.GetRawText()}");
        }
    }

    private void OnUpdate(Listener listener, long timestamp)
    {
        if (_active.ContainsKey(listener.Id))
        {
            lock (listener.Arrivals)
            {
                listener.Arrivals.Add(timestamp);
            }

            if (Interlocked.Increment(ref _arrived) >= Volatile.Read(ref _awaited))
            {
                Volatile.Read(ref _allArrived).TrySetResult();
            }
        }
        else
        {
            Interlocked.Increment(ref _stray);
        }
    }

    /// <summary>The server's memory now: VmRSS and its anonymous part (GC heap and native allocations), from /proc.</summary>
    private IdleMemory ReadMemory(int listeners) => new(
        listeners,
        ProcFs.StatusKb(_server.Pid, "VmRSS") ?? throw new InvalidOperationException("cannot read the server's VmRSS"),
        ProcFs.StatusKb(_server.Pid, "RssAnon") ?? 0,
        ProcFs.StatusKb(_server.Pid, "Threads") ?? 0);

    public async ValueTask DisposeAsync()
    {
        foreach (var listener in _active.Values)
        {
            await listener.Stop.CancelAsync();
        }

        if (_publisher is not null)
        {
            await _publisher.DisposeAsync();
        }

        await _server.DisposeAsync();
        _listenerHttp.Dispose();
    }

    private sealed record ListenerSettings(TimeSpan CellDuration, TimeSpan WarmUp, TimeSpan Settle, double Rate);

    /// <summary>One open listen request and the arrival times of its notifications.</summary>
    private sealed class Listener(string id)
    {
        public string Id { get; } = id;

        public CancellationTokenSource Stop { get; } = new();

        public TaskCompletionSource Acknowledged { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task? Request { get; set; }

        public List<long> Arrivals { get; } = [];

        public int Count
        {
            get
            {
                lock (Arrivals)
                {
                    return Arrivals.Count;
                }
            }
        }
    }
}

/// <summary>The listener part of a run.</summary>
/// <param name="Rate">Publishes per second.</param>
/// <param name="CellSeconds">Publishing time per cell.</param>
/// <param name="WarmUpSeconds">Publishing time to the idle listeners before the cells (not recorded).</param>
/// <param name="SettleSeconds">Wait before each memory reading.</param>
/// <param name="Cells">One per listener count.</param>
/// <param name="Idle">The server's memory with no listener and with the idle ones.</param>
/// <param name="IdleAttachSeconds">Time to open the idle listeners and receive every acknowledgement.</param>
/// <param name="StrayNotifications">Notifications for a listener no longer counted (or of another shape); should be 0.</param>
internal sealed record ListenersPart(
    double Rate,
    double CellSeconds,
    double WarmUpSeconds,
    double SettleSeconds,
    IReadOnlyList<ListenerCell> Cells,
    IReadOnlyList<IdleMemory> Idle,
    double IdleAttachSeconds,
    long StrayNotifications)
{
    /// <summary>(RSS with the idle listeners − RSS with none) ÷ listeners, in KB.</summary>
    public double RssKbPerListener => Idle is [var none, var some] && some.Listeners > 0 ? (some.RssKb - none.RssKb) / (double)some.Listeners : double.NaN;

    public double AnonKbPerListener => Idle is [var none, var some] && some.Listeners > 0 ? (some.AnonKb - none.AnonKb) / (double)some.Listeners : double.NaN;
}

/// <summary>One listener count's figures (latencies from the publish being sent to the notification being handled).</summary>
/// <param name="Listeners">Listen requests open during the cell.</param>
/// <param name="Publishes">Publishes sent.</param>
/// <param name="Expected">Listeners × publishes: one notification per publish per listener.</param>
/// <param name="Received">Notifications the listeners received.</param>
/// <param name="Lost">(Publish, listener) pairs without a notification before the next publish (sent after <see cref="ListenersBench.GateTimeout"/>).</param>
/// <param name="Extra">Notifications beyond the first per listener and publish.</param>
/// <param name="PublishesPerSecond">Publishes over the time from the first send to the last.</param>
/// <param name="P50Ms">Median publish → notification latency over every (publish, listener).</param>
/// <param name="P95Ms">95th percentile of it.</param>
/// <param name="P99Ms">99th percentile of it.</param>
/// <param name="MaxMs">Its maximum.</param>
/// <param name="MinMs">Its minimum.</param>
/// <param name="SpreadP50Ms">Per publish, the slowest listener's latency − the fastest's; the median over publishes.</param>
/// <param name="LastListenerP50Ms">Per publish, the slowest listener's latency; the median over publishes.</param>
/// <param name="LastListenerP99Ms">The same, 99th percentile.</param>
/// <param name="PublishP50Ms">Median round trip of a publish_event call.</param>
/// <param name="PublishP99Ms">99th percentile of it.</param>
/// <param name="WindowSeconds">From the first publish until the notifications had arrived (the CPU window).</param>
/// <param name="AttachSeconds">Time to open the listeners and receive every acknowledgement.</param>
/// <param name="ServerCpuPercent">The server's CPU over the window, in % of one core.</param>
/// <param name="ServerCpuUsPerNotification">The server's CPU over the window ÷ notifications received.</param>
/// <param name="ClientCpuUsPerNotification">The load generator's CPU over the window ÷ notifications received.</param>
/// <param name="OtherCpuPercent">CPU of everything else on the machine over the window, in % of one core (noise).</param>
internal sealed record ListenerCell(
    int Listeners,
    int Publishes,
    long Expected,
    long Received,
    long Lost,
    long Extra,
    double PublishesPerSecond,
    double P50Ms,
    double P95Ms,
    double P99Ms,
    double MaxMs,
    double MinMs,
    double SpreadP50Ms,
    double LastListenerP50Ms,
    double LastListenerP99Ms,
    double PublishP50Ms,
    double PublishP99Ms,
    double WindowSeconds,
    double AttachSeconds,
    double ServerCpuPercent,
    double ServerCpuUsPerNotification,
    double ClientCpuUsPerNotification,
    double OtherCpuPercent);

/// <summary>The server's memory with <paramref name="Listeners"/> idle listeners.</summary>
/// <param name="Listeners">Idle listen requests open.</param>
/// <param name="RssKb">VmRSS.</param>
/// <param name="AnonKb">RssAnon: its anonymous part (GC heap, native allocations, thread stacks); the GC heap alone is not read (that needs an EventPipe session).</param>
/// <param name="Threads">The server's threads.</param>
internal sealed record IdleMemory(int Listeners, long RssKb, long AnonKb, long Threads);
