using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Tributary.Client;

namespace Tributary.Bench;

/// <summary>
/// <c>tributary-bench coalesce</c>: what batching buys over HTTP, against one Tributary JIT server on the demo data.
/// (1) A round of 1,000 concurrent point queries (<see cref="TributaryClient.QueryAsync(string, string, IReadOnlyDictionary{string, JsonElement}?, int?, CancellationToken)"/>,
/// each its own caller) through a client without and a client with <see cref="QueryCoalescing"/>, in turn within each
/// repetition; (2) 50 point queries sent one after another against one <c>batch_query</c> of the same 50. Every caller's
/// row is checked. Writes <c>bench/results/coalesce.md</c>.
/// </summary>
internal static class CoalesceBench
{
    private const int RoundSize = 1_000;
    private const int SequentialSize = 50;

    public static async Task<int> RunAsync(string[] args)
    {
        var quick = args.Contains("--quick");
        var repetitions = quick ? 3 : 9;
        var paths = RepoPaths.Find();
        var tributary = paths.TributaryJit;
        var directory = RepoPaths.NewScratch("coalesce");
        try
        {
            await using var server = await HttpServerProcess.StartAsync(tributary, directory, TimeSpan.FromSeconds(60));
            await using var plain = await TributaryClient.ConnectAsync(new TributaryClientOptions { Endpoint = server.Endpoint });
            var coalescing = new QueryCoalescing();
            await using var coalesced = await TributaryClient.ConnectAsync(new TributaryClientOptions { Endpoint = server.Endpoint, Coalescing = coalescing });
            var ids = Workload.PointIds(Workload.DemoOrderCount);

            // Tiered JIT of both ends, for both paths, before anything is recorded.
            for (var warm = 0; warm < (quick ? 2 : 5); warm++)
            {
                await RoundAsync(plain, ids, warm, server.Pid);
                await RoundAsync(coalesced, ids, warm, server.Pid);
                await SequentialAsync(plain, ids, warm);
                await BatchAsync(plain, ids, warm);
            }

            var rounds = new List<(string Variant, Round Round)>();
            var fifty = new List<(string Variant, double Ms)>();
            for (var repetition = 0; repetition < repetitions; repetition++)
            {
                foreach (var (name, client) in new[] { ("without coalescer", plain), ("with coalescer", coalesced) })
                {
                    var round = await RoundAsync(client, ids, repetition + 10, server.Pid);
                    rounds.Add((name, round));
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name}: {round.WallMs:0.0} ms for {RoundSize} queries, p50 {round.P50Ms:0.0} ms, p99 {round.P99Ms:0.0} ms, server {round.ServerCpuMs:0} ms CPU, client {round.ClientCpuMs:0} ms CPU, {round.Errors} wrong or failed"));
                }

                fifty.Add(("50 sequential query calls", await SequentialAsync(plain, ids, repetition + 10)));
                fifty.Add(("one batch_query of 50", await BatchAsync(plain, ids, repetition + 10)));
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  50 sequential: {fifty[^2].Ms:0.00} ms; one batch of 50: {fifty[^1].Ms:0.00} ms"));
            }

            await paths.WriteReportAsync(quick ? "coalesce-quick.md" : "coalesce.md", Report(rounds, fifty, repetitions, coalescing));
            return 0;
        }
        finally
        {
            RepoPaths.DeleteScratch(directory);
        }
    }

    private sealed record Round(double WallMs, double P50Ms, double P99Ms, double ServerCpuMs, double ClientCpuMs, int Errors);

    /// <summary>1,000 point queries started at once, each by its own caller; a caller that gets another id's row, or an error, counts as an error.</summary>
    private static async Task<Round> RoundAsync(TributaryClient client, int[] ids, int offset, int serverPid)
    {
        var latencies = new double[RoundSize];
        var errors = 0;
        var cpu = ProcFs.CpuTime(serverPid);
        var clientCpu = ProcFs.CpuTime(Environment.ProcessId);
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, RoundSize).Select(i => Task.Run(async () =>
        {
            var id = ids[((offset * RoundSize) + i) % ids.Length];
            var begin = Stopwatch.GetTimestamp();
            try
            {
                var rows = 0;
                await foreach (var row in client.QueryAsync("shop", Workload.PointSql, Id(id)))
                {
                    rows++;
                    if (row["id"].GetInt64() != id)
                    {
                        Interlocked.Increment(ref errors);
                    }
                }

                if (rows != 1)
                {
                    Interlocked.Increment(ref errors);
                }
            }
            catch (Exception e) when (e is TributaryToolException or TributaryConnectionException)
            {
                Interlocked.Increment(ref errors);
            }

            latencies[i] = Stopwatch.GetElapsedTime(begin).TotalMilliseconds;
        })));
        var wall = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        var serverCpu = ProcFs.CpuTime(serverPid) - cpu;
        var loadCpu = ProcFs.CpuTime(Environment.ProcessId) - clientCpu;
        Array.Sort(latencies);
        return new Round(wall, LoadRunner.Percentile(latencies, 0.5), LoadRunner.Percentile(latencies, 0.99), serverCpu?.TotalMilliseconds ?? double.NaN, loadCpu?.TotalMilliseconds ?? double.NaN, errors);
    }

    private static async Task<double> SequentialAsync(TributaryClient client, int[] ids, int offset)
    {
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < SequentialSize; i++)
        {
            var id = ids[((offset * SequentialSize) + i) % ids.Length];
            await foreach (var row in client.QueryAsync("shop", Workload.PointSql, Id(id)))
            {
                Check(row, id);
            }
        }

        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static async Task<double> BatchAsync(TributaryClient client, int[] ids, int offset)
    {
        var batchIds = Enumerable.Range(0, SequentialSize).Select(i => ids[((offset * SequentialSize) + i) % ids.Length]).ToArray();
        var start = Stopwatch.GetTimestamp();
        var results = await client.BatchQueryAsync([.. batchIds.Select(id => new BatchQuery("shop", Workload.PointSql, Id(id)))]);
        for (var i = 0; i < batchIds.Length; i++)
        {
            Check(results[i].Rows().Single(), batchIds[i]);
        }

        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static void Check(QueryRow row, int id)
    {
        if (row["id"].GetInt64() != id)
        {
            throw new InvalidOperationException($"asked for order {id}, got {row["id"]}");
        }
    }

    private static Dictionary<string, JsonElement> Id(int id) => new() { ["id"] = JsonSerializer.SerializeToElement(id) };

    private static string Report(List<(string Variant, Round Round)> rounds, List<(string Variant, double Ms)> fifty, int repetitions, QueryCoalescing coalescing)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"## Query coalescing and batch_query, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}; load generator and server share the cores. One Tributary JIT server on the demo data over Streamable HTTP (2026-07-28, stateless), one `Tributary.Client` per variant. A round is {RoundSize:N0} point queries (`{Workload.PointSql}`, a different id each) started at once, each by its own caller through `QueryAsync`; every caller's row is checked. The variants run in turn within each repetition; medians of {repetitions} repetitions after warm-up rounds. Coalescer: window {coalescing.Window.TotalMilliseconds:0} ms, at most {coalescing.MaxItems} items per `batch_query`.");
        md.AppendLine();
        md.AppendLine("| variant | round wall time ms | queries/s | caller p50 ms | caller p99 ms | server CPU ms per round | client CPU ms per round | wrong or failed |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var variant in rounds.Select(r => r.Variant).Distinct())
        {
            var mine = rounds.Where(r => r.Variant == variant).Select(r => r.Round).ToList();
            var wall = LoadRunner.Median(mine.Select(r => r.WallMs));
            md.AppendLine(CultureInfo.InvariantCulture, $"| {variant} | {wall:0.0} | {RoundSize / wall * 1000:N0} | {LoadRunner.Median(mine.Select(r => r.P50Ms)):0.0} | {LoadRunner.Median(mine.Select(r => r.P99Ms)):0.0} | {LoadRunner.Median(mine.Select(r => r.ServerCpuMs)):0} | {LoadRunner.Median(mine.Select(r => r.ClientCpuMs)):0} | {mine.Sum(r => r.Errors)} |");
        }

        var without = LoadRunner.Median(rounds.Where(r => r.Variant == "without coalescer").Select(r => r.Round.WallMs));
        var with = LoadRunner.Median(rounds.Where(r => r.Variant == "with coalescer").Select(r => r.Round.WallMs));
        var ratio = without / with;
        // The machine is shared, so each repetition's own ratio (both variants measured back to back) is reported too.
        var pairs = rounds.Where(r => r.Variant == "without coalescer").Zip(rounds.Where(r => r.Variant == "with coalescer"), (a, b) => a.Round.WallMs / b.Round.WallMs).ToList();
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"With the coalescer, {RoundSize:N0} concurrent queries finish {ratio:0.0} times faster, ratio of the medians (target ≥ 3: {(ratio >= 3 ? "met" : "**not met**")}); the median of each repetition's own ratio is {LoadRunner.Median(pairs):0.0} (lowest {pairs.Min():0.0}, highest {pairs.Max():0.0}). Every round, per variant: {string.Join("; ", rounds.Select(r => r.Variant).Distinct().Select(v => $"{v} {string.Join(", ", rounds.Where(r => r.Variant == v).Select(r => r.Round.WallMs.ToString("0", CultureInfo.InvariantCulture)))} ms"))}.");
        md.AppendLine();
        var sequential = LoadRunner.Median(fifty.Where(f => f.Variant == "50 sequential query calls").Select(f => f.Ms));
        var batch = LoadRunner.Median(fifty.Where(f => f.Variant == "one batch_query of 50").Select(f => f.Ms));
        md.AppendLine("| 50 point queries | ms (median) |");
        md.AppendLine("|---|---:|");
        md.AppendLine(CultureInfo.InvariantCulture, $"| 50 sequential `query` calls | {sequential:0.00} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| one `batch_query` of the same 50 | {batch:0.00} |");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"One `batch_query` of 50 point queries is {sequential / batch:0.0} times faster than 50 sequential calls (issue target ≥ 5: {(sequential / batch >= 5 ? "met" : "**not met**")}).");
        return md.ToString();
    }
}
