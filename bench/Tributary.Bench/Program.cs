using System.Diagnostics;
using System.Globalization;
using ModelContextProtocol.Client;
using Tributary.Bench;

// Tributary's end-to-end benchmark. See bench/README.md.
//   dotnet run -c Release --project bench/Tributary.Bench -- [--quick] [options]
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

if (args is ["drive", .. var driveArgs])
{
    return await Drive.RunAsync(driveArgs);
}

if (args is ["auth", .. var authArgs])
{
    return await AuthBench.RunAsync(authArgs);
}

if (args is ["subscribe", .. var subscribeArgs])
{
    return await SubscribeBench.RunAsync(subscribeArgs);
}

if (args is ["compression", .. var compressionArgs])
{
    return await CompressionBench.RunAsync(compressionArgs);
}

if (args is ["cache", .. var cacheArgs])
{
    return await CacheBench.RunAsync(cacheArgs);
}

if (args is ["coalesce", .. var coalesceArgs])
{
    return await CoalesceBench.RunAsync(coalesceArgs);
}

var options = BenchOptions.Parse(args);
if (options is null)
{
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

// The PostgreSQL part runs by default when the server binaries are installed, and says so when they are not.
string? postgresSkip = null;
if (options.Postgres != PostgresMode.Off && PostgresBench.FindBinaries() is null)
{
    postgresSkip = "no PostgreSQL server binaries (initdb, pg_ctl, postgres) under /usr/lib/postgresql/*/bin; install them with 'apt-get install -y postgresql'";
    if (options.Postgres == PostgresMode.Required)
    {
        Console.Error.WriteLine($"--postgres: {postgresSkip}");
        return 1;
    }

    Console.Error.WriteLine($"PostgreSQL workloads skipped: {postgresSkip} (--no-postgres silences this line)");
}

var runPostgres = options.Postgres != PostgresMode.Off && postgresSkip is null;

var paths = RepoPaths.Find();
var started = DateTimeOffset.UtcNow;
var totalTime = Stopwatch.StartNew();
Clients.ProtocolVersion = options.ProtocolVersion;
Console.Error.WriteLine($"Tributary benchmark: {options.Describe()}");

// 1. Builds. 'dotnet run' built the JIT builds of the CLI and HelloServer through project references; build them here
//    only when they are missing (for example when the benchmark was started from its own output folder).
foreach (var (project, dll) in new[] { (paths.CliProject, paths.CliJitDll), (paths.HelloProject, paths.HelloJitDll) })
{
    if (!File.Exists(dll))
    {
        Console.Error.WriteLine($"building {Path.GetFileName(project)} (Release): {dll} is missing");
        var (code, output, _) = await Shell.RunAsync("dotnet", ["build", project, "-c", "Release", "-nologo"], paths.Root, TimeSpan.FromMinutes(10));
        if (code != 0 || !File.Exists(dll))
        {
            Console.Error.WriteLine(output);
            return 1;
        }
    }
}

var tributaryJit = new ServerVariant("Tributary JIT", "dotnet", [paths.CliJitDll], IsTributary: true);
var helloJit = new ServerVariant("HelloServer JIT", "dotnet", [paths.HelloJitDll], IsTributary: false);

var publishes = new List<PublishOutcome>();
var published = new List<ServerVariant>();
if (!options.SkipPublish)
{
    Console.Error.WriteLine("publishing ReadyToRun and Native AOT builds of the CLI (reused while src/ is unchanged; not part of the measured time)");
    foreach (var kind in new[] { "r2r", "aot" })
    {
        var outcome = await Measurements.PublishAsync(paths, kind, options.Republish);
        publishes.Add(outcome);
        Console.Error.WriteLine($"  {kind}: {(outcome.Succeeded ? "published" : "FAILED")}{(outcome.Cached ? " (cached)" : $" in {outcome.Seconds} s")}, {outcome.Warnings.Count} warning(s), {outcome.Errors.Count} error(s)");
        foreach (var line in outcome.Warnings.Concat(outcome.Errors))
        {
            Console.Error.WriteLine($"    {line}");
        }

        if (outcome.Succeeded)
        {
            published.Add(new ServerVariant(kind == "aot" ? "Tributary Native AOT" : "Tributary ReadyToRun", outcome.Binary!, [], IsTributary: true));
        }
    }
}

var measuredTime = Stopwatch.StartNew();
var dataDir = Path.Combine(Path.GetTempPath(), $"tributary-bench-{Environment.ProcessId}");
Directory.CreateDirectory(dataDir);
var report = new Report(options, started, paths);
report.Publishes.AddRange(publishes);
if (postgresSkip is not null)
{
    report.Postgres = new PostgresPart(postgresSkip, null, 0, 0, []);
}

using var http = Clients.NewHttpClient();
try
{
    // 2. The demo database is created on the first start; do it before anything is timed.
    Console.Error.WriteLine($"creating the demo database in {dataDir}");
    await using (var first = await Clients.ConnectStdioAsync(tributaryJit, dataDir, CancellationToken.None))
    {
        await first.ListToolsAsync();
    }

    // 3. Start-up: spawn to first tools/list answered over stdio.
    if (!options.SkipStartup)
    {
        Console.Error.WriteLine($"start-up, median of {options.StartupRounds}");
        report.Startup.AddRange(await Measurements.StartupAsync([tributaryJit, .. published, helloJit], dataDir, options.StartupRounds));
    }

    // 4. Idle memory of an HTTP server.
    if (!options.SkipMemory)
    {
        Console.Error.WriteLine("idle memory (HTTP server, 10 calls, 3 s idle)");
        foreach (var variant in new[] { tributaryJit }.Concat(published))
        {
            report.Memory.Add(await Measurements.IdleMemoryAsync(variant, dataDir, Workload.PointQuery(), http, 10, TimeSpan.FromSeconds(3)));
            Console.Error.WriteLine($"  {report.Memory[^1].Build}: {report.Memory[^1].RssMb:0.0} MB");
        }

        report.Memory.Add(await Measurements.IdleMemoryAsync(helloJit, dataDir, Workload.Hello(), http, 10, TimeSpan.FromSeconds(3)));
        Console.Error.WriteLine($"  {report.Memory[^1].Build}: {report.Memory[^1].RssMb:0.0} MB");
    }

    // 5. Load: one server process per server and transport (JIT builds); stdio: one client each; HTTP: clients per the chosen mode.
    var floor = options.Shapes ? helloJit with { Suffix = ["--shapes"] } : helloJit;
    var stdioClients = new List<McpClient>();
    var httpClients = new List<McpClient>();
    var httpServers = new List<HttpServerProcess>();
    var httpClientCount = options.HttpClientsPerWorker ? options.Concurrency.Max() : 1;
    PostgresBench? postgres = null;
    IngestBench? ingest = null;
    try
    {
        var targets = new List<LoadTarget>();
        Workload[] FloorWorkloads() => options.Shapes
            ? [Workload.Hello(), Workload.Shaped("point_shaped", 1), Workload.Shaped("rows_shaped", 1000), Workload.Shaped("rows_structured_only", 1000)]
            : [Workload.Hello()];
        LoadTarget Mcp(string server, string transport, Workload workload, Func<int, McpClient> clientOf, int pid) =>
            new(server, transport, workload.Name, LoadRunner.ToolCaller(clientOf, workload), pid);
        if (options.Sqlite && options.Stdio)
        {
            var tributary = await ConnectStdioWithPidAsync(tributaryJit, dataDir);
            stdioClients.Add(tributary.Client);
            var hello = await ConnectStdioWithPidAsync(floor, dataDir);
            stdioClients.Add(hello.Client);
            targets.Add(Mcp("Tributary", "stdio", Workload.PointQuery(), _ => tributary.Client, tributary.Pid));
            targets.Add(Mcp("Tributary", "stdio", Workload.Rows1000(), _ => tributary.Client, tributary.Pid));
            targets.AddRange(FloorWorkloads().Select(w => Mcp("HelloServer", "stdio", w, _ => hello.Client, hello.Pid)));
            report.Bytes = await Measurements.BytesAsync(tributary.Client, tributaryJit, dataDir);
            Console.Error.WriteLine($"bytes per row: compact {report.Bytes.CompactPerRow:0.0}, objects {report.Bytes.ObjectsCompactPerRow:0.0} ({report.Bytes.RatioToObjects:P0})");
        }

        if (options.Sqlite && options.Http)
        {
            var tributaryServer = await HttpServerProcess.StartAsync(tributaryJit, dataDir, TimeSpan.FromSeconds(60));
            httpServers.Add(tributaryServer);
            var helloServer = await HttpServerProcess.StartAsync(floor, dataDir, TimeSpan.FromSeconds(60));
            httpServers.Add(helloServer);
            var tributaryClients = await ConnectHttpClientsAsync(tributaryServer.Endpoint, httpClientCount);
            var helloClients = await ConnectHttpClientsAsync(helloServer.Endpoint, httpClientCount);
            httpClients.AddRange(tributaryClients.Concat(helloClients));
            targets.Add(Mcp("Tributary", "HTTP", Workload.PointQuery(), w => tributaryClients[w % httpClientCount], tributaryServer.Pid));
            targets.Add(Mcp("Tributary", "HTTP", Workload.Rows1000(), w => tributaryClients[w % httpClientCount], tributaryServer.Pid));
            targets.AddRange(FloorWorkloads().Select(w => Mcp("HelloServer", "HTTP", w, c => helloClients[c % httpClientCount], helloServer.Pid)));
        }

        // PostgreSQL: a throwaway server seeded once per run; each workload raw (in this process) and through Tributary
        // (a JIT build serving one postgres source) on each transport.
        if (runPostgres)
        {
            Console.Error.WriteLine($"PostgreSQL: starting a throwaway server and seeding {PostgresBench.OrderCount:N0} orders");
            postgres = await PostgresBench.StartAsync(dataDir);
            Console.Error.WriteLine($"  PostgreSQL {postgres.ServerVersion}, seeded in {postgres.SeedSeconds:0.0} s; Tributary configuration {postgres.ConfigFile}");
            var pgWorkloads = postgres.Workloads().Where(w => w.Writes ? options.PgWrites : options.PgReads).ToList();
            report.Postgres = new PostgresPart(null, postgres.ServerVersion, postgres.SeedSeconds, PostgresBench.OrderCount, [.. pgWorkloads.Select(w => new PgWorkloadInfo(w.Name, w.Target, w.Concurrency ?? options.Concurrency, w.Statement, w.Throughput))]);
            var pg = tributaryJit with { Config = postgres.ConfigFile };
            var databaseCpu = postgres.CpuTime;
            targets.AddRange(pgWorkloads.Select(w => new LoadTarget(PostgresBench.RawServer, PostgresBench.RawTransport, w.Name, w.Raw, null, databaseCpu, w.Concurrency)));
            if (options.Stdio)
            {
                var tributary = await ConnectStdioWithPidAsync(pg, dataDir);
                stdioClients.Add(tributary.Client);
                targets.AddRange(pgWorkloads.Select(w => new LoadTarget("Tributary", "stdio", w.Name, LoadRunner.ToolCaller(_ => tributary.Client, w.Tributary), tributary.Pid, databaseCpu, w.Concurrency)));
            }

            if (options.Http)
            {
                var server = await HttpServerProcess.StartAsync(pg, dataDir, TimeSpan.FromSeconds(60));
                httpServers.Add(server);
                var clients = await ConnectHttpClientsAsync(server.Endpoint, httpClientCount);
                httpClients.AddRange(clients);
                targets.AddRange(pgWorkloads.Select(w => new LoadTarget("Tributary", "HTTP", w.Name, LoadRunner.ToolCaller(c => clients[c % httpClientCount], w.Tributary), server.Pid, databaseCpu, w.Concurrency)));
            }
        }

        // Topic ingest: durable appends into SqliteEventStore in this process (the store's ceiling), and publish_event
        // through Tributary (a JIT build serving the topic 'orders') on each transport; every store starts from the same
        // file, filled here to the default retention (100,000 events).
        if (options.Ingest)
        {
            Console.Error.WriteLine($"topic ingest: filling a store with {IngestBench.FillEvents:N0} events (the default retention) at c={IngestBench.FillConcurrency}");
            ingest = await IngestBench.StartAsync(Path.Combine(dataDir, "ingest"));
            report.Ingest = ingest.Part;
            Console.Error.WriteLine($"  filled in {ingest.Part.FillSeconds:0.0} s ({ingest.Part.FillEventsPerSecond:N0} events/s), {ingest.Part.FileBytes / 1048576.0:0.0} MB ({ingest.Part.FileBytesPerThousand / 1024:0.0} KB per 1,000 events); payload {ingest.Part.PayloadBytes:0} bytes");
            targets.Add(new LoadTarget(IngestBench.StoreServer, IngestBench.StoreTransport, IngestBench.StoreWorkload, ingest.StoreCaller(), null, Concurrency: IngestBench.StoreConcurrency));
            var publish = Workload.PublishEvent(IngestBench.Topic, IngestBench.EventType, IngestBench.Payloads(), IngestBench.McpWorkload);
            if (options.Stdio)
            {
                var tributary = await ConnectStdioWithPidAsync(tributaryJit with { Config = ingest.StdioConfig }, dataDir);
                stdioClients.Add(tributary.Client);
                targets.Add(new LoadTarget("Tributary", "stdio", publish.Name, LoadRunner.ToolCaller(_ => tributary.Client, publish), tributary.Pid, Concurrency: IngestBench.McpConcurrency));
            }

            if (options.Http)
            {
                var server = await HttpServerProcess.StartAsync(tributaryJit with { Config = ingest.HttpConfig }, dataDir, TimeSpan.FromSeconds(60));
                httpServers.Add(server);
                var count = options.HttpClientsPerWorker ? IngestBench.McpConcurrency.Max() : 1;
                var clients = await ConnectHttpClientsAsync(server.Endpoint, count);
                httpClients.AddRange(clients);
                targets.Add(new LoadTarget("Tributary", "HTTP", publish.Name, LoadRunner.ToolCaller(c => clients[c % count], publish), server.Pid, Concurrency: IngestBench.McpConcurrency));
            }
        }

        // Tiered JIT needs 10 to 15 s of load on two busy cores before a server runs its final code: warm every server
        // and workload (results checked) before the first measurement, then give each cell a short warm-up of its own.
        Console.Error.WriteLine($"warm-up: {options.InitialWarmUp.TotalSeconds:0.#} s per server and workload at c={Math.Min(8, options.Concurrency.Max())}");
        foreach (var target in targets)
        {
            await LoadRunner.RunAsync(target.CallerOf, Math.Min(8, (target.Concurrency ?? options.Concurrency).Max()), options.InitialWarmUp, TimeSpan.Zero, null, null);
        }

        var cells = targets.SelectMany(t => (t.Concurrency ?? options.Concurrency).Select(c => (Target: t, Concurrency: c))).ToList();
        Console.Error.WriteLine($"load: {cells.Count} cells x {options.Repetitions} repetition(s), {options.Duration.TotalSeconds:0.#} s each");
        for (var rep = 1; rep <= options.Repetitions; rep++)
        {
            foreach (var (target, concurrency) in cells)
            {
                var sample = await LoadRunner.RunAsync(target.CallerOf, concurrency, options.WarmUp, options.Duration, target.Pid, target.DatabaseCpu);
                report.AddSample(target.Server, target.Transport, target.Workload, concurrency, sample);
                Console.Error.WriteLine(
                    $"  rep {rep} {target.Server,-12} {target.Transport,-10} {target.Workload,-20} c={concurrency,-2}: {sample.CallsPerSecond,8:0} calls/s  p50 {sample.P50Ms,7:0.00} ms  p99 {sample.P99Ms,7:0.00} ms  server {sample.ServerCpuUsPerCall,6:0} us/call  client {sample.ClientCpuUsPerCall,6:0} us/call{(sample.DatabaseCpuUsPerCall is { } db ? $"  postgres {db,5:0} us/call" : "")}  other {sample.OtherCpuPercent,3:0} %{(sample.Errors > 0 ? $"  {sample.Errors} errors" : "")}");
            }
        }
    }
    finally
    {
        foreach (var client in httpClients.Concat(stdioClients))
        {
            await client.DisposeAsync();
        }

        foreach (var server in httpServers)
        {
            await server.DisposeAsync();
        }

        // Stops the throwaway PostgreSQL server and deletes its folder.
        if (postgres is not null)
        {
            await postgres.DisposeAsync();
        }

        // Closes the in-process event store and records its file (the folder goes with the run's folder below).
        if (ingest is not null)
        {
            await ingest.DisposeAsync();
            report.Ingest = ingest.Part;
        }
    }

    // Topic listeners: 2026-07-28 subscriptions/listen requests on one HTTP server (a JIT build serving the topic
    // 'orders'), publish → notification latency at 1, 100 and 1,000 listeners, and memory per idle listener. After the
    // load matrix, when its servers are gone; the part starts and stops its own server and deletes its folder.
    if (options.Listeners)
    {
        report.Listeners = await ListenersBench.RunAsync(tributaryJit, Path.Combine(dataDir, "listeners"), http, options.Quick);
    }
}
finally
{
    try
    {
        Directory.Delete(dataDir, recursive: true);
    }
    catch (IOException)
    {
    }
}

report.MeasuredSeconds = measuredTime.Elapsed.TotalSeconds;
report.TotalSeconds = totalTime.Elapsed.TotalSeconds;
var markdown = report.Markdown();
Console.WriteLine(markdown);
if (options.Write)
{
    Directory.CreateDirectory(paths.Results);
    await File.WriteAllTextAsync(Path.Combine(paths.Results, options.ResultName + ".md"), markdown);
    await File.WriteAllTextAsync(Path.Combine(paths.Results, options.ResultName + ".json"), report.Json());
    Console.Error.WriteLine($"wrote bench/results/{options.ResultName}.md and .json ({report.TotalSeconds:0} s in all, {report.MeasuredSeconds:0} s measuring)");
}

return 0;

async Task<(McpClient Client, int Pid)> ConnectStdioWithPidAsync(ServerVariant variant, string directory)
{
    var before = ProcFs.Children();
    var client = await Clients.ConnectStdioAsync(variant, directory, CancellationToken.None);
    var spawned = ProcFs.Children().Except(before).ToList();
    if (spawned.Count != 1)
    {
        await client.DisposeAsync();
        throw new InvalidOperationException($"expected one new child process for {variant.Name}, found {spawned.Count}");
    }

    return (client, spawned[0]);
}

async Task<McpClient[]> ConnectHttpClientsAsync(Uri endpoint, int count)
{
    var clients = new McpClient[count];
    for (var i = 0; i < count; i++)
    {
        clients[i] = await Clients.ConnectHttpAsync(endpoint, http, CancellationToken.None);
    }

    return clients;
}
