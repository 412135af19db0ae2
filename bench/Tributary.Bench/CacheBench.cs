using System.Globalization;
using System.Text;
using ModelContextProtocol.Client;
using Tributary.Testing;

namespace Tributary.Bench;

/// <summary>
/// <c>tributary-bench cache</c>: repeated calls without and with a cache, over Streamable HTTP at concurrency 8, all in
/// one run with the variants interleaved: a <c>fetch</c> of an HTTP API source against an API on loopback that answers
/// in <see cref="ApiLatency"/> (a remote API's round trip), and a <c>query</c> of an aggregate over the demo shop's
/// orders through a SQL source without and with <c>cache_ttl</c>. Writes <c>bench/results/cache.md</c>.
/// </summary>
internal static class CacheBench
{
    /// <summary>How long the stand-in API takes to answer.</summary>
    private static readonly TimeSpan ApiLatency = TimeSpan.FromMilliseconds(20);

    /// <summary>A moderately expensive read: every order, grouped.</summary>
    private const string AggregateSql = "SELECT status, count(*) AS orders, sum(total_cents) AS revenue_cents, avg(total_cents) AS average_cents FROM orders GROUP BY status ORDER BY status";

    /// <summary>The demo shop's order statuses: the aggregate's rows.</summary>
    private const int Statuses = 6;

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
            var database = Path.Combine(directory, Server.Demo.DemoShop.FileName);
            Server.Demo.DemoShop.EnsureCreated(database);
            await File.WriteAllTextAsync(config, $$"""
                # Written by tributary-bench cache (bench/Tributary.Bench/CacheBench.cs); deleted with its folder.
                server:
                  data_dir: {{directory}}/data
                sources:
                  api_uncached: { kind: http, base_url: "http://127.0.0.1:{{api.Port}}/v1", allowed_ranges: [127.0.0.1/32], cache_ttl: 0s }
                  api_cached: { kind: http, base_url: "http://127.0.0.1:{{api.Port}}/v1", allowed_ranges: [127.0.0.1/32], cache_ttl: 60s }
                  shop_uncached: { kind: sqlite, path: {{database}} }
                  shop_cached: { kind: sqlite, path: {{database}}, cache_ttl: 60s }
                """);
            await using var server = await HttpServerProcess.StartAsync(paths.TributaryJit with { Config = config }, directory, TimeSpan.FromSeconds(60));
            var clients = new List<McpClient>();
            for (var i = 0; i < concurrency; i++)
            {
                clients.Add(await Clients.ConnectHttpAsync(server.Endpoint, http, CancellationToken.None));
            }

            var groups = new (string Title, string Setup, Workload Uncached, Workload Cached)[]
            {
                ("HTTP source cache", $"two `http` sources on the same API (one with `cache_ttl: 0s`, one with `cache_ttl: 60s`); the API, on loopback, answers in {ApiLatency.TotalMilliseconds:0} ms; the same `fetch` on every call",
                    Workload.Fetch("api_uncached", "/tickets", "fetch, uncached"), Workload.Fetch("api_cached", "/tickets", "fetch, cached")),
                ("SQL result cache", $"two `sqlite` sources on one copy of the demo shop ({Workload.DemoOrderCount:N0} orders; one without `cache_ttl`, one with `cache_ttl: 60s`); the same `query` on every call: `{AggregateSql}`",
                    Workload.Query("shop_uncached", AggregateSql, Statuses, "query, uncached"), Workload.Query("shop_cached", AggregateSql, Statuses, "query, cached")),
            };
            var variants = groups.SelectMany(g => new[] { g.Uncached, g.Cached }).ToArray();
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

            double Median(Workload workload, Func<Sample, double> value) => LoadRunner.Median([.. samples[workload.Name].Select(value)]);
            var md = new StringBuilder();
            md.AppendLine(CultureInfo.InvariantCulture, $"## Caches, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}; load generator, API and server share the cores. One Tributary JIT server; {concurrency} workers in a closed loop over Streamable HTTP, medians of {repetitions} repetitions of {cell.TotalSeconds:0} s, all four variants in turn in each repetition. The target: a cached repeat at least 10 times the uncached rate.");
            foreach (var (title, setup, uncached, cached) in groups)
            {
                var ratio = Median(cached, s => s.CallsPerSecond) / Median(uncached, s => s.CallsPerSecond);
                md.AppendLine();
                md.AppendLine(CultureInfo.InvariantCulture, $"### {title}");
                md.AppendLine();
                md.AppendLine(CultureInfo.InvariantCulture, $"Sources: {setup}.");
                md.AppendLine();
                md.AppendLine("| variant | calls/s | p50 ms | server CPU µs/call |");
                md.AppendLine("|---|---:|---:|---:|");
                foreach (var workload in new[] { uncached, cached })
                {
                    md.AppendLine(CultureInfo.InvariantCulture, $"| {workload.Name} | {Median(workload, s => s.CallsPerSecond):N0} | {Median(workload, s => s.P50Ms):0.00} | {Median(workload, s => s.ServerCpuUsPerCall ?? 0):N0} |");
                }

                md.AppendLine();
                md.AppendLine(CultureInfo.InvariantCulture, $"Cached / uncached: {ratio:0.0}× (target ≥ 10×: {(ratio >= 10 ? "met" : "**not met**")}).");
            }

            await paths.WriteReportAsync(quick ? "cache-quick.md" : "cache.md", md.ToString());
            return 0;
        }
        finally
        {
            RepoPaths.DeleteScratch(directory);
        }
    }
}
