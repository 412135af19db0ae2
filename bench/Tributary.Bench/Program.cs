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

var options = BenchOptions.Parse(args);
if (options is null)
{
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

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
    try
    {
        var targets = new List<(string Server, string Transport, Workload Workload, Func<int, McpClient> ClientOf, int Pid)>();
        Workload[] FloorWorkloads() => options.Shapes
            ? [Workload.Hello(), Workload.Shaped("point_shaped", 1), Workload.Shaped("rows_shaped", 1000), Workload.Shaped("rows_structured_only", 1000)]
            : [Workload.Hello()];
        if (options.Stdio)
        {
            var tributary = await ConnectStdioWithPidAsync(tributaryJit, dataDir);
            stdioClients.Add(tributary.Client);
            var hello = await ConnectStdioWithPidAsync(floor, dataDir);
            stdioClients.Add(hello.Client);
            targets.Add(("Tributary", "stdio", Workload.PointQuery(), _ => tributary.Client, tributary.Pid));
            targets.Add(("Tributary", "stdio", Workload.Rows1000(), _ => tributary.Client, tributary.Pid));
            targets.AddRange(FloorWorkloads().Select(w => ("HelloServer", "stdio", w, (Func<int, McpClient>)(_ => hello.Client), hello.Pid)));
            report.Bytes = await Measurements.BytesAsync(tributary.Client, tributaryJit, dataDir);
            Console.Error.WriteLine($"bytes per row: compact {report.Bytes.CompactPerRow:0.0}, objects {report.Bytes.ObjectsCompactPerRow:0.0} ({report.Bytes.RatioToObjects:P0})");
        }

        if (options.Http)
        {
            var tributaryServer = await HttpServerProcess.StartAsync(tributaryJit, dataDir, TimeSpan.FromSeconds(60));
            httpServers.Add(tributaryServer);
            var helloServer = await HttpServerProcess.StartAsync(floor, dataDir, TimeSpan.FromSeconds(60));
            httpServers.Add(helloServer);
            var tributaryClients = await ConnectHttpClientsAsync(tributaryServer.Endpoint, httpClientCount);
            var helloClients = await ConnectHttpClientsAsync(helloServer.Endpoint, httpClientCount);
            httpClients.AddRange(tributaryClients.Concat(helloClients));
            targets.Add(("Tributary", "HTTP", Workload.PointQuery(), w => tributaryClients[w % httpClientCount], tributaryServer.Pid));
            targets.Add(("Tributary", "HTTP", Workload.Rows1000(), w => tributaryClients[w % httpClientCount], tributaryServer.Pid));
            targets.AddRange(FloorWorkloads().Select(w => ("HelloServer", "HTTP", w, (Func<int, McpClient>)(c => helloClients[c % httpClientCount]), helloServer.Pid)));
        }

        // Tiered JIT needs 10 to 15 s of load on two busy cores before a server runs its final code: warm every server
        // and workload (results checked) before the first measurement, then give each cell a short warm-up of its own.
        Console.Error.WriteLine($"warm-up: {options.InitialWarmUp.TotalSeconds:0.#} s per server and workload at c={Math.Min(8, options.Concurrency.Max())}");
        foreach (var target in targets)
        {
            await LoadRunner.RunAsync(target.ClientOf, target.Workload, Math.Min(8, options.Concurrency.Max()), options.InitialWarmUp, TimeSpan.Zero, null);
        }

        var cells = targets.SelectMany(t => options.Concurrency.Select(c => (t.Server, t.Transport, t.Workload, t.ClientOf, t.Pid, Concurrency: c))).ToList();
        Console.Error.WriteLine($"load: {cells.Count} cells x {options.Repetitions} repetition(s), {options.Duration.TotalSeconds:0.#} s each");
        for (var rep = 1; rep <= options.Repetitions; rep++)
        {
            foreach (var cell in cells)
            {
                var sample = await LoadRunner.RunAsync(cell.ClientOf, cell.Workload, cell.Concurrency, options.WarmUp, options.Duration, cell.Pid);
                report.AddSample(cell.Server, cell.Transport, cell.Workload.Name, cell.Concurrency, sample);
                Console.Error.WriteLine(
                    $"  rep {rep} {cell.Server,-11} {cell.Transport,-5} {cell.Workload.Name,-20} c={cell.Concurrency,-2}: {sample.CallsPerSecond,8:0} calls/s  p50 {sample.P50Ms,7:0.00} ms  p99 {sample.P99Ms,7:0.00} ms  server {sample.ServerCpuUsPerCall,6:0} us/call  other {sample.OtherCpuPercent,3:0} %{(sample.Errors > 0 ? $"  {sample.Errors} errors" : "")}");
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
