using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Tributary.Bench;

internal sealed record StartupResult(string Build, double MedianMs, double MinMs, double MaxMs, double[] SamplesMs);

internal sealed record MemoryResult(string Build, double RssMb, double PeakRssMb, double AnonMb, double FileMb, double ShmemMb, int Calls, double IdleSeconds);

internal sealed record BytesResult(
    int Rows,
    long CompactBytes,
    long RowsArrayBytes,
    long ObjectsCompactBytes,
    long ObjectsIndentedBytes,
    long TextContentBytes,
    long WireResponseBytes,
    long PointWireResponseBytes,
    bool TextEqualsStructured)
{
    public double CompactPerRow => (double)CompactBytes / Rows;

    public double ObjectsCompactPerRow => (double)ObjectsCompactBytes / Rows;

    public double ObjectsIndentedPerRow => (double)ObjectsIndentedBytes / Rows;

    public double RatioToObjects => (double)CompactBytes / ObjectsCompactBytes;

    public double RatioToIndentedObjects => (double)CompactBytes / ObjectsIndentedBytes;
}

internal sealed record PublishOutcome(
    string Kind,
    string Command,
    bool Succeeded,
    bool Cached,
    double Seconds,
    string? Binary,
    long? BinaryBytes,
    long? OutputBytes,
    IReadOnlyList<string> Warnings,
    IReadOnlyList<string> Errors,
    string LogPath);

/// <summary>Start-up, idle memory, bytes per row, and the ReadyToRun / Native AOT publishes they need.</summary>
internal static partial class Measurements
{
    /// <summary>Spawn to first <c>tools/list</c> answered over stdio; one unmeasured round first, then rounds interleaved across builds.</summary>
    public static async Task<List<StartupResult>> StartupAsync(IReadOnlyList<ServerVariant> variants, string dataDir, int rounds)
    {
        var samples = variants.ToDictionary(v => v.Name, _ => new List<double>());
        for (var round = -1; round < rounds; round++)
        {
            foreach (var variant in variants)
            {
                var stopwatch = Stopwatch.StartNew();
                await using var client = await Clients.ConnectStdioAsync(variant, dataDir, CancellationToken.None);
                var tools = await client.ListToolsAsync();
                var ms = stopwatch.Elapsed.TotalMilliseconds;
                if (tools.Count == 0)
                {
                    throw new InvalidOperationException($"{variant.Name} listed no tools");
                }

                if (round >= 0)
                {
                    samples[variant.Name].Add(ms);
                }

                Console.Error.WriteLine($"  start-up {variant.Name}: {ms:0} ms{(round < 0 ? " (warm-up, not counted)" : "")}");
            }
        }

        return [.. variants.Select(v =>
        {
            var s = samples[v.Name].ToArray();
            return new StartupResult(v.Name, LoadRunner.Median(s), s.Min(), s.Max(), s);
        })];
    }

    /// <summary>RSS of an HTTP server after start-up, <paramref name="calls"/> calls from a client that then disconnects, and an idle pause.</summary>
    public static async Task<MemoryResult> IdleMemoryAsync(ServerVariant variant, string dataDir, Workload workload, HttpClient http, int calls, TimeSpan idle)
    {
        await using var server = await HttpServerProcess.StartAsync(variant, dataDir, TimeSpan.FromSeconds(60));
        await using (var client = await Clients.ConnectHttpAsync(server.Endpoint, http, CancellationToken.None))
        {
            for (var i = 0; i < calls; i++)
            {
                workload.Check(i, await client.CallToolAsync(workload.Request(i)));
            }
        }

        await Task.Delay(idle);
        var rss = ProcFs.StatusKb(server.Pid, "VmRSS") ?? throw new InvalidOperationException($"cannot read VmRSS of {variant.Name}");
        var hwm = ProcFs.StatusKb(server.Pid, "VmHWM") ?? rss;
        var anon = ProcFs.StatusKb(server.Pid, "RssAnon") ?? 0;
        var file = ProcFs.StatusKb(server.Pid, "RssFile") ?? 0;
        var shmem = ProcFs.StatusKb(server.Pid, "RssShmem") ?? 0;
        return new MemoryResult(variant.Name, rss / 1024.0, hwm / 1024.0, anon / 1024.0, file / 1024.0, shmem / 1024.0, calls, idle.TotalSeconds);
    }

    /// <summary>
    /// The 1000-row result as the client receives it, re-encoded as an array of objects (as peers send it), and the size
    /// of the whole JSON-RPC response line on the stdio wire.
    /// </summary>
    public static async Task<BytesResult> BytesAsync(McpClient tributary, ServerVariant variant, string dataDir)
    {
        var rows = Workload.Rows1000();
        var result = await tributary.CallToolAsync(rows.Request(0));
        rows.Check(0, result);
        var structured = result.StructuredContent!.Value;
        var compact = Encoding.UTF8.GetByteCount(structured.GetRawText());
        var text = result.Content is [TextContentBlock block] ? block.Text : "";
        var names = structured.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("name").GetString()!).ToArray();
        var rowsArray = Encoding.UTF8.GetByteCount(structured.GetProperty("rows").GetRawText());
        var count = structured.GetProperty("row_count").GetInt32();

        var (pointWire, rowsWire) = await WireBytesAsync(variant, dataDir);
        return new BytesResult(
            Rows: count,
            CompactBytes: compact,
            RowsArrayBytes: rowsArray,
            ObjectsCompactBytes: AsObjects(structured, names, indented: false),
            ObjectsIndentedBytes: AsObjects(structured, names, indented: true),
            TextContentBytes: Encoding.UTF8.GetByteCount(text),
            WireResponseBytes: rowsWire,
            PointWireResponseBytes: pointWire,
            TextEqualsStructured: JsonElement.DeepEquals(JsonElement.Parse(text), structured));
    }

    private static long AsObjects(JsonElement structured, string[] names, bool indented)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            json.WriteStartArray();
            foreach (var row in structured.GetProperty("rows").EnumerateArray())
            {
                json.WriteStartObject();
                var i = 0;
                foreach (var value in row.EnumerateArray())
                {
                    json.WritePropertyName(names[i++]);
                    value.WriteTo(json);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        return buffer.WrittenCount;
    }

    /// <summary>Bytes of the raw JSON-RPC response lines (point query and 1000-row result) as the stdio server writes them.</summary>
    private static async Task<(long Point, long Rows)> WireBytesAsync(ServerVariant variant, string dataDir)
    {
        var info = new ProcessStartInfo(variant.Command)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = new UTF8Encoding(false),
        };
        foreach (var argument in variant.StdioArguments(dataDir))
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        try
        {
            var input = process.StandardInput;
            input.NewLine = "\n";
            await input.WriteLineAsync("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"tributary-bench","version":"1.0.0"}}}""");
            await input.WriteLineAsync("""{"jsonrpc":"2.0","method":"notifications/initialized"}""");
            await input.WriteLineAsync("""{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"query","arguments":{"source":"shop","sql":""" + JsonSerializer.Serialize(Workload.PointSql) + ""","params":{"id":4242}}}}""");
            await input.WriteLineAsync("""{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"query","arguments":{"source":"shop","sql":""" + JsonSerializer.Serialize(Workload.RowsSql) + ""","max_rows":1000}}}""");
            await input.FlushAsync();
            long point = -1, rows = -1;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while ((point < 0 || rows < 0) && await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                // One message per line; '\n' ends it on the wire.
                var bytes = Encoding.UTF8.GetByteCount(line) + 1;
                if (IdTwo().IsMatch(line))
                {
                    point = bytes;
                }
                else if (IdThree().IsMatch(line))
                {
                    rows = bytes;
                }
            }

            input.Close();
            return (point, rows);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
        }
    }

    [GeneratedRegex("\"id\":2[,}]")]
    private static partial Regex IdTwo();

    [GeneratedRegex("\"id\":3[,}]")]
    private static partial Regex IdThree();

    /// <summary>
    /// Publishes the CLI as ReadyToRun (<paramref name="kind"/> "r2r") or Native AOT ("aot") into bench/artifacts, in a build
    /// tree of its own (<c>--artifacts-path</c>) so that it never touches the obj/ folders other builds use. Reuses the last
    /// publish when nothing under src/ changed since.
    /// </summary>
    public static async Task<PublishOutcome> PublishAsync(RepoPaths paths, string kind, bool force)
    {
        var output = Path.Combine(paths.Artifacts, kind);
        var log = Path.Combine(paths.Artifacts, $"{kind}-publish.log");
        var stamp = Path.Combine(paths.Artifacts, $"{kind}-publish.json");
        var binary = Path.Combine(output, "tributary");
        var arguments = new List<string> { "publish", paths.CliProject, "-c", "Release", "-r", "linux-x64" };
        arguments.AddRange(kind == "aot"
            ? ["-p:PublishAot=true"]
            : ["--self-contained", "false", "-p:PublishReadyToRun=true"]);
        arguments.AddRange(["-o", output, "--artifacts-path", Path.Combine(paths.Artifacts, "build-" + kind), "-nologo"]);
        var command = "dotnet " + string.Join(' ', arguments.Select(a => a.Replace(paths.Root + "/", "", StringComparison.Ordinal)));

        if (!force && File.Exists(stamp) && File.Exists(log) && File.GetLastWriteTimeUtc(stamp) > paths.NewestSourceWrite()
            && JsonSerializer.Deserialize<PublishOutcome>(await File.ReadAllTextAsync(stamp), Report.JsonOptions) is { } previous
            && (!previous.Succeeded || File.Exists(binary)))
        {
            return previous with { Cached = true };
        }

        Directory.CreateDirectory(paths.Artifacts);
        if (Directory.Exists(output))
        {
            Directory.Delete(output, recursive: true);
        }

        Console.Error.WriteLine($"  {command}");
        var (exitCode, text, elapsed) = await Shell.RunAsync("dotnet", arguments, paths.Root, TimeSpan.FromMinutes(15));
        await File.WriteAllTextAsync(log, $"$ {command}{Environment.NewLine}{text}");
        var lines = text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var warnings = lines.Where(l => WarningLine().IsMatch(l)).Distinct().ToList();
        var errors = lines.Where(l => ErrorLine().IsMatch(l)).Distinct().ToList();
        var succeeded = exitCode == 0 && File.Exists(binary);
        if (!succeeded && errors.Count == 0)
        {
            errors = [.. lines.TakeLast(30)];
        }

        var outcome = new PublishOutcome(
            kind, command, succeeded, Cached: false, Math.Round(elapsed.TotalSeconds, 1),
            succeeded ? binary : null, succeeded ? new FileInfo(binary).Length : null, succeeded ? DeployableBytes(output) : null, warnings, errors, log);
        await File.WriteAllTextAsync(stamp, JsonSerializer.Serialize(outcome, Report.JsonOptions));
        return outcome;
    }

    /// <summary>Size of what would be deployed: the output folder without symbols (.pdb, .dbg) and XML docs.</summary>
    private static long DeployableBytes(string folder) => Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
        .Where(f => Path.GetExtension(f) is not (".pdb" or ".dbg" or ".xml"))
        .Sum(f => new FileInfo(f).Length);

    [GeneratedRegex(@"\bwarning\s*[A-Za-z]*\d*\s*:", RegexOptions.IgnoreCase)]
    private static partial Regex WarningLine();

    [GeneratedRegex(@"\berror\s*[A-Za-z]*\d*\s*:", RegexOptions.IgnoreCase)]
    private static partial Regex ErrorLine();
}
