using System.Globalization;
using System.Text;
using ModelContextProtocol.Client;
using Tributary.Testing;

namespace Tributary.Bench;

/// <summary>
/// <c>tributary-bench cache</c>: a repeated <c>fetch</c> of an HTTP API source without and with the source's cache, against
/// an API on loopback that answers in <see cref="ApiLatency"/> (a remote API's round trip), over Streamable HTTP at
/// concurrency 8. Writes <c>bench/results/cache.md</c>.
/// </summary>
internal static class CacheBench
{
    /// <summary>How long the stand-in API takes to answer.</summary>
    private static readonly TimeSpan ApiLatency = TimeSpan.FromMilliseconds(20);

    public static async Task<int> RunAsync(string[] args)
    {
        var quick = args.Contains("--quick");
        var (repetitions, cell, concurrency) = (quick ? 1 : 5, TimeSpan.FromSeconds(quick ? 2 : 5), 8);
        var paths = RepoPaths.Find();
        var directory = RepoPaths.NewScratch("cache");
        var answer = Encoding.UTF8.GetBytes("""{"tickets":[{"id":1,"title":"Printer on fire","state":"open"},{"id":2,"title":"VPN down","state":"open"}]}""");
        await using var api = LoopbackHttpServer.Start(async (context, stop) =>
        {
            await Task.Delay(ApiLatency, stop);
            await LoopbackHttpServer.AnswerAsync(context, "application/json", answer);
        });
        using var http = Clients.NewHttpClient();
        try
        {
            var config = Path.Combine(directory, "cache.yaml");
            await File.WriteAllTextAsync(config, $$"""
                # Written by tributary-bench cache (bench/Tributary.Bench/CacheBench.cs); deleted with its folder.
                server:
                  data_dir: {{directory}}/data
                sources:
                  api_uncached: { kind: http, base_url: "http://127.0.0.1:{{api.Port}}/v1", allowed_ranges: [127.0.0.1/32], cache_ttl: 0s }
                  api_cached: { kind: http, base_url: "http://127.0.0.1:{{api.Port}}/v1", allowed_ranges: [127.0.0.1/32], cache_ttl: 60s }
                """);
            await using var server = await HttpServerProcess.StartAsync(paths.TributaryJit with { Config = config }, directory, TimeSpan.FromSeconds(60));
            var clients = new List<McpClient>();
            for (var i = 0; i < concurrency; i++)
            {
                clients.Add(await Clients.ConnectHttpAsync(server.Endpoint, http, CancellationToken.None));
            }

            var variants = new[] { Workload.Fetch("api_uncached", "/tickets", "uncached"), Workload.Fetch("api_cached", "/tickets", "cached") };
            foreach (var workload in variants)
            {
                await LoadRunner.RunAsync(w => clients[w], workload, concurrency, TimeSpan.FromSeconds(quick ? 1 : 4), TimeSpan.Zero, null);
            }

            var samples = variants.ToDictionary(v => v.Name, _ => new List<Sample>());
            for (var repetition = 0; repetition < repetitions; repetition++)
            {
                foreach (var workload in variants)
                {
                    var sample = await LoadRunner.RunAsync(w => clients[w], workload, concurrency, TimeSpan.FromSeconds(1), cell, server.Pid);
                    samples[workload.Name].Add(sample);
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {workload.Name}: {sample.CallsPerSecond:0} calls/s, p50 {sample.P50Ms:0.00} ms, {sample.Errors} errors"));
                }
            }

            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }

            double Median(string name, Func<Sample, double> value) => LoadRunner.Median([.. samples[name].Select(value)]);
            var ratio = Median("cached", s => s.CallsPerSecond) / Median("uncached", s => s.CallsPerSecond);
            var md = new StringBuilder();
            md.AppendLine(CultureInfo.InvariantCulture, $"## HTTP source cache, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}; load generator, API and server share the cores. One Tributary JIT server with two `http` sources on the same API (one with `cache_ttl: 0s`, one with `cache_ttl: 60s`); the API, on loopback, answers in {ApiLatency.TotalMilliseconds:0} ms. The same `fetch` on every call, {concurrency} workers in a closed loop, medians of {repetitions} repetitions of {cell.TotalSeconds:0} s, the two variants in turn. The target: a cached repeat at least 10 times the uncached rate.");
            md.AppendLine();
            md.AppendLine("| variant | calls/s | p50 ms |");
            md.AppendLine("|---|---:|---:|");
            foreach (var name in new[] { "uncached", "cached" })
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {Median(name, s => s.CallsPerSecond):N0} | {Median(name, s => s.P50Ms):0.00} |");
            }

            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"Cached / uncached: {ratio:0.0}× (target ≥ 10×: {(ratio >= 10 ? "met" : "**not met**")}).");
            await paths.WriteReportAsync(quick ? "cache-quick.md" : "cache.md", md.ToString());
            return 0;
        }
        finally
        {
            RepoPaths.DeleteScratch(directory);
        }
    }
}
