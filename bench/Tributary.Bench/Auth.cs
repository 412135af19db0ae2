using System.Diagnostics;
using System.Globalization;
using System.Text;
using ModelContextProtocol.Client;
using Tributary.Testing;

namespace Tributary.Bench;

/// <summary>
/// <c>tributary-bench auth</c>: what authentication costs on the point-query workload over HTTP. Two Tributary JIT
/// servers on the same demo data, one without <c>auth</c> and one with API keys and OAuth (tokens from a real OpenIddict
/// server in this process, keys discovered over HTTP); each repetition measures, side by side, no credentials against
/// the plain server, an API key and a bearer token against the other. Writes <c>bench/results/auth.md</c>.
/// </summary>
internal static class AuthBench
{
    private const string Resource = "http://127.0.0.1:1/mcp";

    public static async Task<int> RunAsync(string[] args)
    {
        var quick = args.Contains("--quick");
        var repetitions = quick ? 1 : 5;
        var cell = TimeSpan.FromSeconds(quick ? 2 : 5);
        var warmUp = TimeSpan.FromSeconds(quick ? 1 : 2);
        int[] concurrencies = [8, 32];
        var paths = RepoPaths.Find();
        var tributary = paths.TributaryJit;
        var directory = RepoPaths.NewScratch("auth");
        await using var issuer = await TestAuthorizationServer.StartAsync();
        using var http = Clients.NewHttpClient();
        try
        {
            await using var plain = await HttpServerProcess.StartAsync(tributary, directory, TimeSpan.FromSeconds(60));
            var config = Path.Combine(directory, "auth.yaml");
            await File.WriteAllTextAsync(config, $$"""
                # Written by tributary-bench auth (bench/Tributary.Bench/Auth.cs); deleted with its folder.
                server:
                  data_dir: {{directory}}/auth-data
                  public_url: http://127.0.0.1:1
                sources:
                  shop: { kind: sqlite, path: {{Path.Combine(directory, "demo-shop.db")}} }
                auth:
                  api_keys: true
                  oauth: { issuer: {{issuer.Issuer}} }
                  rate_limit: { per_minute: 10000000, burst: 1000000 }
                """);
            var key = await CreateKeyAsync(paths, config);
            var token = await issuer.ClientCredentialsTokenAsync(Resource, "sources:shop:read");
            await using var secured = await HttpServerProcess.StartAsync(tributary with { Config = config }, directory, TimeSpan.FromSeconds(60));

            var workload = Workload.PointQuery();
            var cells = new List<(string Variant, int Concurrency, Sample Sample)>();
            var variants = new (string Name, HttpServerProcess Server, string? Credential)[] { ("no auth", plain, null), ("API key", secured, key), ("OAuth bearer token", secured, token) };
            foreach (var concurrency in concurrencies)
            {
                var clients = new Dictionary<string, List<McpClient>>();
                foreach (var (name, server, credential) in variants)
                {
                    clients[name] = [];
                    for (var i = 0; i < concurrency; i++)
                    {
                        clients[name].Add(await Clients.ConnectHttpAsync(server.Endpoint, http, CancellationToken.None, credential is null ? null : new Dictionary<string, string> { ["Authorization"] = $"Bearer {credential}" }));
                    }

                    // Tiered JIT of both servers before anything is recorded.
                    await LoadRunner.RunAsync(w => clients[name][w], workload, concurrency, TimeSpan.FromSeconds(quick ? 2 : 6), TimeSpan.Zero, null);
                }

                for (var repetition = 0; repetition < repetitions; repetition++)
                {
                    foreach (var (name, server, _) in variants)
                    {
                        var sample = await LoadRunner.RunAsync(w => clients[name][w], workload, concurrency, warmUp, cell, server.Pid);
                        cells.Add((name, concurrency, sample));
                        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  c={concurrency} {name}: {sample.CallsPerSecond:0} calls/s, p50 {sample.P50Ms:0.00} ms, p99 {sample.P99Ms:0.00} ms, server {sample.ServerCpuUsPerCall:0} us/call, {sample.Errors} errors"));
                    }
                }

                foreach (var list in clients.Values)
                {
                    foreach (var client in list)
                    {
                        await client.DisposeAsync();
                    }
                }
            }

            await paths.WriteReportAsync(quick ? "auth-quick.md" : "auth.md", Report(cells, concurrencies, repetitions, cell));
            return 0;
        }
        finally
        {
            RepoPaths.DeleteScratch(directory);
        }
    }

    private static async Task<string> CreateKeyAsync(RepoPaths paths, string config)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { paths.CliJitDll, "keys", "create", "--config", config, "--name", "bench", "--scopes", "sources:shop:read" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? output.Trim() : throw new InvalidOperationException($"tributary keys create failed: {error}");
    }

    private static string Report(List<(string Variant, int Concurrency, Sample Sample)> cells, int[] concurrencies, int repetitions, TimeSpan cell)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"## Authentication cost, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}; load generator and servers share the cores. Point query (`query` by primary key, a different id per call) over Streamable HTTP, one SDK client per worker, closed loop; two Tributary JIT servers on the same demo database, one without `auth`, one with `api_keys` and `oauth` (issuer: an OpenIddict server in the load generator, keys by discovery and JWKS). Medians of {repetitions} repetitions of {cell.TotalSeconds:0} s, the three variants measured in turn within each repetition. The target: authentication costs at most 10 % of throughput.");
        md.AppendLine();
        md.AppendLine("| concurrency | variant | calls/s | vs no auth | p50 ms | p99 ms | server µs/call |");
        md.AppendLine("|---:|---|---:|---:|---:|---:|---:|");
        var worst = 0.0;
        foreach (var concurrency in concurrencies)
        {
            var baseline = LoadRunner.Median(cells.Where(c => c.Concurrency == concurrency && c.Variant == "no auth").Select(c => c.Sample.CallsPerSecond));
            foreach (var variant in cells.Where(c => c.Concurrency == concurrency).Select(c => c.Variant).Distinct())
            {
                var samples = cells.Where(c => c.Concurrency == concurrency && c.Variant == variant).Select(c => c.Sample).ToList();
                var rate = LoadRunner.Median(samples.Select(s => s.CallsPerSecond));
                var ratio = rate / baseline;
                if (variant != "no auth")
                {
                    worst = Math.Max(worst, 1 - ratio);
                }

                md.AppendLine(CultureInfo.InvariantCulture, $"| {concurrency} | {variant} | {rate:N0} | {ratio:P0} | {LoadRunner.Median(samples.Select(s => s.P50Ms)):0.00} | {LoadRunner.Median(samples.Select(s => s.P99Ms)):0.00} | {LoadRunner.Median(samples.Select(s => s.ServerCpuUsPerCall ?? double.NaN)):0} |");
            }
        }

        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Largest throughput cost: {worst:P1} (target ≤ 10 %: {(worst <= 0.10 ? "met" : "**not met**")}).");
        return md.ToString();
    }
}
