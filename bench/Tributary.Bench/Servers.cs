using System.Diagnostics;
using System.Text.RegularExpressions;
using ModelContextProtocol.Client;

namespace Tributary.Bench;

/// <summary>A server build under test and how to start it.</summary>
/// <param name="Name">Label in the report.</param>
/// <param name="Command">Executable: <c>dotnet</c> for a JIT build, else the published binary.</param>
/// <param name="Prefix">Arguments before the server's own (the .dll for <c>dotnet</c>).</param>
/// <param name="IsTributary">Tributary (serve --stdio/--http, --data-dir) or the hello floor (--stdio/--http).</param>
/// <param name="Suffix">Arguments after the server's own (HelloServer's <c>--shapes</c>).</param>
internal sealed record ServerVariant(string Name, string Command, IReadOnlyList<string> Prefix, bool IsTributary, IReadOnlyList<string>? Suffix = null)
{
    /// <summary>Tributary's configuration file (<c>--config</c>, e.g. the PostgreSQL source); null serves the demo data of the data folder.</summary>
    public string? Config { get; init; }

    public IReadOnlyList<string> StdioArguments(string dataDir) => IsTributary
        ? [.. Prefix, "serve", "--stdio", .. Source(dataDir), .. Suffix ?? []]
        : [.. Prefix, "--stdio", .. Suffix ?? []];

    public IReadOnlyList<string> HttpArguments(string dataDir) => IsTributary
        ? [.. Prefix, "serve", "--http", "127.0.0.1:0", .. Source(dataDir), .. Suffix ?? []]
        : [.. Prefix, "--http", "127.0.0.1:0", .. Suffix ?? []];

    private string[] Source(string dataDir) => Config is null ? ["--data-dir", dataDir] : ["--config", Config];
}

/// <summary>Client settings shared by every connection the benchmark makes.</summary>
internal static class Clients
{
    /// <summary>Client protocol version: null lets the SDK client negotiate (it prefers 2026-07-28, stateless over HTTP).</summary>
    public static string? ProtocolVersion { get; set; }

    public static McpClientOptions Options() => new()
    {
        ClientInfo = new() { Name = "tributary-bench", Version = "1.0.0" },
        ProtocolVersion = ProtocolVersion,
        InitializationTimeout = TimeSpan.FromSeconds(60),
    };

    /// <summary>Spawns <paramref name="variant"/> over stdio and connects (the client owns the process).</summary>
    public static async Task<McpClient> ConnectStdioAsync(ServerVariant variant, string dataDir, CancellationToken cancellationToken)
    {
        var stderr = new Queue<string>();
        var transport = new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = variant.Name,
            Command = variant.Command,
            Arguments = [.. variant.StdioArguments(dataDir)],
            ShutdownTimeout = TimeSpan.FromSeconds(5),
            StandardErrorLines = line =>
            {
                lock (stderr)
                {
                    stderr.Enqueue(line);
                    if (stderr.Count > 20)
                    {
                        stderr.Dequeue();
                    }
                }
            },
        });
        try
        {
            return await McpClient.CreateAsync(transport, Options(), cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            string tail;
            lock (stderr)
            {
                tail = string.Join(Environment.NewLine, stderr);
            }

            throw new InvalidOperationException($"{variant.Name} over stdio did not start: {e.Message}{Environment.NewLine}{tail}", e);
        }
    }

    public static Task<McpClient> ConnectHttpAsync(Uri endpoint, HttpClient http, CancellationToken cancellationToken, IDictionary<string, string>? headers = null) =>
        McpClient.CreateAsync(
            new HttpClientTransport(new HttpClientTransportOptions { Endpoint = endpoint, TransportMode = HttpTransportMode.StreamableHttp, AdditionalHeaders = headers is { Count: > 0 } ? headers : null }, http, ownsHttpClient: false),
            Options(),
            cancellationToken: cancellationToken);

    /// <summary>One connection pool for every HTTP client of the run; no cap on connections per server.</summary>
    public static HttpClient NewHttpClient() => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = int.MaxValue,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
        UseProxy = false,
    })
    {
        Timeout = TimeSpan.FromSeconds(60),
    };
}

/// <summary>A server started over HTTP on 127.0.0.1 with a free port, killed (with its children) on dispose.</summary>
internal sealed partial class HttpServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Queue<string> _tail = new();

    private HttpServerProcess(Process process) => _process = process;

    public Uri Endpoint { get; private set; } = null!;

    public int Pid => _process.Id;

    public static async Task<HttpServerProcess> StartAsync(ServerVariant variant, string dataDir, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(variant.Command)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in variant.HttpArguments(dataDir))
        {
            info.ArgumentList.Add(argument);
        }

        var server = new HttpServerProcess(new Process { StartInfo = info, EnableRaisingEvents = true });
        var ready = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (server._tail)
            {
                server._tail.Enqueue(line);
                if (server._tail.Count > 30)
                {
                    server._tail.Dequeue();
                }
            }

            if (EndpointLine().Match(line) is { Success: true } match)
            {
                ready.TrySetResult(new Uri(match.Groups[1].Value));
            }
        }

        server._process.OutputDataReceived += (_, e) => OnLine(e.Data);
        server._process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        server._process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"{variant.Name} over HTTP exited with code {server._process.ExitCode} before listening:{Environment.NewLine}{server.Tail()}"));
        server._process.Start();
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        try
        {
            server.Endpoint = await ready.Task.WaitAsync(timeout);
            return server;
        }
        catch (TimeoutException)
        {
            await server.DisposeAsync();
            throw new InvalidOperationException($"{variant.Name} over HTTP did not print its endpoint within {timeout.TotalSeconds:0} s:{Environment.NewLine}{server.Tail()}");
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public string Tail()
    {
        lock (_tail)
        {
            return string.Join(Environment.NewLine, _tail);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (InvalidOperationException)
        {
            // Never started or already gone.
        }
        finally
        {
            _process.Dispose();
        }
    }

    // Tributary's banner and HelloServer's line both name the Streamable HTTP endpoint.
    [GeneratedRegex(@"(?:MCP endpoint \(Streamable HTTP\):|listening on)\s+(http://\S+/mcp)\b")]
    private static partial Regex EndpointLine();
}
