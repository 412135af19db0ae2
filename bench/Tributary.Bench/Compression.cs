using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace Tributary.Bench;

/// <summary>
/// <c>tributary-bench compression</c>: a 1000-row <c>query</c> answer over Streamable HTTP, uncompressed, gzip and
/// Brotli, against one Tributary JIT server on the demo data: bytes on the wire, the ratio, and the median time of a call
/// (the server compresses, the client reads the bytes without decoding them). Writes <c>bench/results/compression.md</c>.
/// </summary>
internal static class CompressionBench
{
    private const string Query = """
        {"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"query","arguments":{"source":"shop","sql":"SELECT * FROM orders ORDER BY id LIMIT 1000","max_rows":1000},
         "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"}}}}
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var repetitions = args.Contains("--quick") ? 5 : 30;
        var paths = RepoPaths.Find();
        var directory = Path.Combine(Path.GetTempPath(), $"tributary-bench-compression-{Environment.ProcessId}");
        Directory.CreateDirectory(directory);
        try
        {
            await using var server = await HttpServerProcess.StartAsync(new ServerVariant("Tributary JIT", "dotnet", [paths.CliJitDll], IsTributary: true), directory, TimeSpan.FromSeconds(60));
            using var http = new HttpClient();
            var rows = new List<(string Encoding, long Bytes, double MedianMs)>();
            foreach (var encoding in new[] { "identity", "gzip", "br" })
            {
                var times = new List<double>();
                long bytes = 0;
                for (var i = 0; i < repetitions + 3; i++)
                {
                    var started = Stopwatch.GetTimestamp();
                    bytes = await CallAsync(http, server.Endpoint, encoding);
                    if (i >= 3)
                    {
                        // The first three warm up both ends.
                        times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }
                }

                rows.Add((encoding, bytes, LoadRunner.Median(times)));
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {encoding}: {bytes:N0} bytes, median {LoadRunner.Median(times):0.00} ms"));
            }

            var plain = rows[0].Bytes;
            var md = new StringBuilder();
            md.AppendLine(CultureInfo.InvariantCulture, $"## Compression of a 1000-row answer, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}; client and server share the cores. One Tributary JIT server on the demo data; `query` of 1000 orders (`max_rows` 1000) over Streamable HTTP at 2026-07-28, the answer an event stream; each encoding asked for with `Accept-Encoding`, {repetitions} calls after 3 warm-up calls, medians. The target: at least 5 to 1.");
            md.AppendLine();
            md.AppendLine("| encoding | bytes | ratio | median ms per call |");
            md.AppendLine("|---|---:|---:|---:|");
            foreach (var (encoding, bytes, median) in rows)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {encoding} | {bytes:N0} | {(double)plain / bytes:0.0} : 1 | {median:0.00} |");
            }

            await paths.WriteReportAsync(args.Contains("--quick") ? "compression-quick.md" : "compression.md", md.ToString());
            return 0;
        }
        finally
        {
            RepoPaths.DeleteScratch(directory);
        }
    }

    private static async Task<long> CallAsync(HttpClient http, Uri endpoint, string encoding)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent(Query, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        request.Headers.AcceptEncoding.ParseAdd(encoding);
        request.Headers.Add("MCP-Protocol-Version", "2026-07-28");
        request.Headers.Add("Mcp-Method", "tools/call");
        request.Headers.Add("Mcp-Name", "query");
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var used = response.Content.Headers.ContentEncoding.SingleOrDefault() ?? "identity";
        if (used != encoding)
        {
            throw new InvalidOperationException($"asked for {encoding}, the server answered {used}");
        }

        return (await response.Content.ReadAsByteArrayAsync()).LongLength;
    }
}
