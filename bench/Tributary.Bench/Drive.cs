using System.Globalization;
using ModelContextProtocol.Client;

namespace Tributary.Bench;

/// <summary>
/// <c>drive</c>: one load cell against one server, for profiling (attach a profiler to the printed PID while it measures).
/// <code>
/// tributary-bench drive (--url URL | --stdio tributary|hello) --workload point|rows|hello|point-shaped|rows-shaped|rows-structured-only
///                       [--concurrency N] [--warmup S] [--duration S] [--http-clients shared|per-worker] [--protocol V] [--server-arg ARG]...
/// </code>
/// </summary>
internal static class Drive
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? url = null, stdio = null, workloadName = null;
        int concurrency = 8;
        double warmUp = 3, duration = 10;
        var perWorker = true;
        var serverArgs = new List<string>();
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
            _ => null,
        };
        if (workload is null || (url is null) == (stdio is null))
        {
            Console.Error.WriteLine("drive: give --url or --stdio, and --workload point|rows|hello|point-shaped|rows-shaped|rows-structured-only");
            return 2;
        }

        var paths = RepoPaths.Find();
        using var http = Clients.NewHttpClient();
        var clients = new List<McpClient>();
        var dataDir = Path.Combine(Path.GetTempPath(), $"tributary-bench-drive-{Environment.ProcessId}");
        int? pid = null;
        try
        {
            if (stdio is not null)
            {
                var variant = stdio == "hello"
                    ? new ServerVariant("HelloServer JIT", "dotnet", [paths.HelloJitDll], IsTributary: false, ["--shapes", .. serverArgs])
                    : new ServerVariant("Tributary JIT", "dotnet", [paths.CliJitDll], IsTributary: true, serverArgs);
                var before = ProcFs.Children();
                clients.Add(await Clients.ConnectStdioAsync(variant, dataDir, CancellationToken.None));
                pid = ProcFs.Children().Except(before).Single();
            }
            else
            {
                for (var i = 0; i < (perWorker ? concurrency : 1); i++)
                {
                    clients.Add(await Clients.ConnectHttpAsync(new Uri(url!), http, CancellationToken.None));
                }
            }

            Console.WriteLine($"server pid {pid?.ToString(CultureInfo.InvariantCulture) ?? "(external)"}; warming up {warmUp} s, then measuring {duration} s");
            await LoadRunner.RunAsync(w => clients[w % clients.Count], workload, concurrency, TimeSpan.FromSeconds(warmUp), TimeSpan.Zero, null);
            Console.WriteLine("measuring");
            var sample = await LoadRunner.RunAsync(w => clients[w % clients.Count], workload, concurrency, TimeSpan.Zero, TimeSpan.FromSeconds(duration), pid);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{workload.Name} c={concurrency}: {sample.CallsPerSecond:0} calls/s, p50 {sample.P50Ms:0.00} ms, p99 {sample.P99Ms:0.00} ms, server CPU {sample.ServerCpuUsPerCall:0} us/call, client CPU {sample.ClientCpuUsPerCall:0} us/call, {sample.Errors} errors"));
            return 0;
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }

            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }
}
