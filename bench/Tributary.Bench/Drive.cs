using System.Globalization;
using ModelContextProtocol.Client;

namespace Tributary.Bench;

/// <summary>
/// <c>drive</c>: one load cell against one server, for profiling (attach a profiler to the printed PID while it measures).
/// <code>
/// tributary-bench drive (--url URL | --stdio tributary|hello) --workload point|rows|hello|point-shaped|rows-shaped|rows-structured-only
///                       [--concurrency N] [--warmup S] [--duration S] [--http-clients shared|per-worker] [--protocol V] [--server-arg ARG]... [--header "Name: value"]...
/// tributary-bench drive --postgres (--stdio tributary | --http | --raw) --workload pg-point|pg-rows|pg-write [--concurrency N] ...
/// </code>
/// With <c>--postgres</c> it starts and seeds a throwaway PostgreSQL (1M orders) and serves it through Tributary over
/// stdio or HTTP (a server it starts), or runs the raw Npgsql side in its own process (<c>--raw</c>; profile this process).
/// </summary>
internal static class Drive
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? url = null, stdio = null, workloadName = null;
        int concurrency = 8;
        double warmUp = 3, duration = 10;
        var perWorker = true;
        bool postgres = false, raw = false, httpServer = false;
        var serverArgs = new List<string>();
        var headers = new Dictionary<string, string>();
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : "";
            switch (args[i])
            {
                case "--url": url = value; i++; break;
                case "--stdio": stdio = value; i++; break;
                case "--workload": workloadName = value; i++; break;
                case "--concurrency": concurrency = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--warmup": warmUp = double.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--duration": duration = double.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--http-clients": perWorker = value == "per-worker"; i++; break;
                case "--protocol": Clients.ProtocolVersion = value; i++; break;
                case "--server-arg": serverArgs.Add(value); i++; break;
                case "--header" when value.Split(':', 2) is [var name, var text]: headers[name.Trim()] = text.Trim(); i++; break;
                case "--postgres": postgres = true; break;
                case "--raw": raw = true; break;
                case "--http": httpServer = true; break;
                default:
                    Console.Error.WriteLine($"drive: unknown option '{args[i]}'");
                    return 2;
            }
        }

        Workload? workload = workloadName switch
        {
            "point" => Workload.PointQuery(),
            "rows" => Workload.Rows1000(),
            "hello" => Workload.Hello(),
            "point-shaped" => Workload.Shaped("point_shaped", 1),
            "rows-shaped" => Workload.Shaped("rows_shaped", 1000),
            "rows-structured-only" => Workload.Shaped("rows_structured_only", 1000),
            "pg-point" or "pg-rows" or "pg-write" => Workload.Hello(), // replaced below, once the PostgreSQL server runs
            _ => null,
        };
        var isPgWorkload = workloadName is "pg-point" or "pg-rows" or "pg-write";
        var serverChoices = (url is null ? 0 : 1) + (stdio is null ? 0 : 1) + (httpServer ? 1 : 0) + (raw ? 1 : 0);
        if (workload is null || serverChoices != 1 || postgres != isPgWorkload || (!postgres && (raw || httpServer)))
        {
            Console.Error.WriteLine("drive: give --url or --stdio, and --workload point|rows|hello|point-shaped|rows-shaped|rows-structured-only; or --postgres, one of --stdio tributary, --http, --raw, and --workload pg-point|pg-rows|pg-write");
            return 2;
        }

        var paths = RepoPaths.Find();
        using var http = Clients.NewHttpClient();
        var clients = new List<McpClient>();
        var dataDir = Path.Combine(Path.GetTempPath(), $"tributary-bench-drive-{Environment.ProcessId}");
        Directory.CreateDirectory(dataDir);
        int? pid = null;
        PostgresBench? pg = null;
        HttpServerProcess? server = null;
        try
        {
            Func<int, CallAsync>? rawCaller = null;
            var tributary = new ServerVariant("Tributary JIT", "dotnet", [paths.CliJitDll], IsTributary: true, serverArgs);
            if (postgres)
            {
                Console.WriteLine($"starting PostgreSQL and seeding {PostgresBench.OrderCount:N0} orders");
                pg = await PostgresBench.StartAsync(dataDir);
                var pgName = workloadName switch
                {
                    "pg-point" => PostgresBench.PointWorkload,
                    "pg-rows" => PostgresBench.RowsWorkload,
                    _ => PostgresBench.WriteWorkload,
                };
                var pgWorkload = pg.Workloads().Single(w => w.Name == pgName);
                workload = pgWorkload.Tributary;
                rawCaller = raw ? pgWorkload.Raw : null;
                tributary = tributary with { Config = pg.ConfigFile };
                if (httpServer)
                {
                    server = await HttpServerProcess.StartAsync(tributary, dataDir, TimeSpan.FromSeconds(60));
                    url = server.Endpoint.ToString();
                    pid = server.Pid;
                }
            }

            if (stdio is not null)
            {
                var variant = stdio == "hello"
                    ? new ServerVariant("HelloServer JIT", "dotnet", [paths.HelloJitDll], IsTributary: false, ["--shapes", .. serverArgs])
                    : tributary;
                var before = ProcFs.Children();
                clients.Add(await Clients.ConnectStdioAsync(variant, dataDir, CancellationToken.None));
                pid = ProcFs.Children().Except(before).Single();
            }
            else if (url is not null)
            {
                for (var i = 0; i < (perWorker ? concurrency : 1); i++)
                {
                    clients.Add(await Clients.ConnectHttpAsync(new Uri(url), http, CancellationToken.None, headers));
                }
            }

            var callerOf = rawCaller ?? LoadRunner.ToolCaller(w => clients[w % clients.Count], workload);
            var databaseCpu = pg is null ? null : (Func<TimeSpan?>)pg.CpuTime;
            Console.WriteLine($"{(raw ? $"raw Npgsql in this process, pid {Environment.ProcessId}" : $"server pid {pid?.ToString(CultureInfo.InvariantCulture) ?? "(external)"}")}; warming up {warmUp} s, then measuring {duration} s");
            await LoadRunner.RunAsync(callerOf, concurrency, TimeSpan.FromSeconds(warmUp), TimeSpan.Zero, null, null);
            Console.WriteLine("measuring");
            var sample = await LoadRunner.RunAsync(callerOf, concurrency, TimeSpan.Zero, TimeSpan.FromSeconds(duration), pid, databaseCpu);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{workload.Name}{(raw ? " (raw Npgsql)" : "")} c={concurrency}: {sample.CallsPerSecond:0} calls/s, p50 {sample.P50Ms:0.00} ms, p99 {sample.P99Ms:0.00} ms, server CPU {sample.ServerCpuUsPerCall:0} us/call, client CPU {sample.ClientCpuUsPerCall:0} us/call{(sample.DatabaseCpuUsPerCall is { } db ? $", PostgreSQL CPU {db:0} us/call" : "")}, {sample.Errors} errors"));
            return 0;
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }

            if (server is not null)
            {
                await server.DisposeAsync();
            }

            if (pg is not null)
            {
                await pg.DisposeAsync();
            }

            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }
}
