using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Tributary.Client;

namespace Tributary.Bench;

/// <summary>
/// <c>tributary-bench subscribe</c>: publish → delivery latency of <see cref="TributaryClient.SubscribeAsync"/>, over
/// Streamable HTTP and WebSocket, against one Tributary JIT server on the demo data (whose activity simulator also
/// publishes, so the topic is a live one). A publisher client sends 20 events a second; each is timed from the moment
/// its <c>publish_event</c> is sent to the moment the subscriber's enumerator yields it (one clock, one process).
/// Writes <c>bench/results/subscribe.md</c>.
/// </summary>
internal static class SubscribeBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var quick = args.Contains("--quick");
        var count = quick ? 60 : 300;
        var paths = RepoPaths.Find();
        var tributary = paths.TributaryJit;
        var directory = RepoPaths.NewScratch("subscribe");
        try
        {
            await using var server = await HttpServerProcess.StartAsync(tributary, directory, TimeSpan.FromSeconds(60));
            var rows = new List<(string Transport, double[] Latencies, int Lost)>();
            var ws = new Uri($"ws://{server.Endpoint.Authority}/ws");
            foreach (var (name, options) in new[]
            {
                ("Streamable HTTP", new TributaryClientOptions { Endpoint = server.Endpoint }),
                ("WebSocket", new TributaryClientOptions { Transport = TributaryTransport.WebSocket, Endpoint = ws }),
            })
            {
                // A first round warms both ends up (tiered JIT) and is not recorded.
                await MeasureAsync(options, server.Endpoint, quick ? 20 : 60);
                var (latencies, lost) = await MeasureAsync(options, server.Endpoint, count);
                rows.Add((name, latencies, lost));
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name}: p50 {LoadRunner.Percentile(latencies, 0.5):0.00} ms, p99 {LoadRunner.Percentile(latencies, 0.99):0.00} ms, {latencies.Length} delivered, {lost} lost"));
            }

            var md = new StringBuilder();
            md.AppendLine(CultureInfo.InvariantCulture, $"## Subscribe latency, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}; load generator and server share the cores. One Tributary JIT server on the demo data (its activity simulator publishes to the same topic now and then). One `Tributary.Client` subscriber (`SubscribeAsync(\"orders\", types: bench.tick)`: woken by `subscriptions/listen`, then `read_events` from its cursor) and one publisher client; {count} events at 20 a second, each timed from sending its `publish_event` to the subscriber's enumerator yielding it. A warm-up round first, not recorded.");
            md.AppendLine();
            md.AppendLine("| transport | delivered | lost | p50 ms | p99 ms | max ms |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|");
            foreach (var (name, latencies, lost) in rows)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {latencies.Length} | {lost} | {LoadRunner.Percentile(latencies, 0.5):0.00} | {LoadRunner.Percentile(latencies, 0.99):0.00} | {(latencies.Length == 0 ? double.NaN : latencies.Max()):0.00} |");
            }

            await paths.WriteReportAsync(quick ? "subscribe-quick.md" : "subscribe.md", md.ToString());
            return 0;
        }
        finally
        {
            RepoPaths.DeleteScratch(directory);
        }
    }

    private static async Task<(double[] Latencies, int Lost)> MeasureAsync(TributaryClientOptions subscriberOptions, Uri http, int count)
    {
        await using var subscriber = await TributaryClient.ConnectAsync(subscriberOptions);
        await using var publisher = await TributaryClient.ConnectAsync(new TributaryClientOptions { Endpoint = http });
        var start = (await publisher.CallToolAsync("read_events", new Dictionary<string, JsonElement> { ["topic"] = JsonElement.Parse("\"orders\""), ["limit"] = JsonElement.Parse("1") })).GetProperty("cursor").GetInt64();
        var sent = new long[count];
        var latencies = new List<double>(count);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds((count / 20.0) + 30));
        var reading = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in subscriber.SubscribeAsync("orders", new TopicFilter { Types = ["bench.tick"] }, start, stop.Token))
                {
                    var now = Stopwatch.GetTimestamp();
                    var n = e.Data.GetProperty("n").GetInt32();
                    lock (latencies)
                    {
                        latencies.Add((now - Volatile.Read(ref sent[n])) * 1000.0 / Stopwatch.Frequency);
                        if (latencies.Count == count)
                        {
                            return;
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        });

        var begin = Stopwatch.GetTimestamp();
        for (var n = 0; n < count; n++)
        {
            var due = begin + (long)(n * Stopwatch.Frequency / 20.0);
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }

            Volatile.Write(ref sent[n], Stopwatch.GetTimestamp());
            await publisher.PublishAsync("orders", "bench.tick", JsonElement.Parse(string.Create(CultureInfo.InvariantCulture, $"{{\"n\":{n}}}")));
        }

        await reading.WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(_ => { }, TaskScheduler.Default);
        await stop.CancelAsync();
        double[] result;
        lock (latencies)
        {
            result = [.. latencies.Order()];
        }

        return (result, count - result.Length);
    }
}
