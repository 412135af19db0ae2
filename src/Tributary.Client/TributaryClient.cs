using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Tributary.Client;

/// <summary>
/// A connection to a Tributary server (Streamable HTTP, legacy SSE, WebSocket or stdio) over the SDK's <see cref="McpClient"/>: typed calls, retries of transient failures
/// with a new connection (or a new session) when the old one is gone, and topics followed by cursor so that each event
/// arrives exactly once, across reconnects too.
/// </summary>
public sealed partial class TributaryClient : IAsyncDisposable
{
    private readonly TributaryClientOptions _options;
    private readonly TokenSource? _tokens;
    private readonly AuthorizationCodeFlow? _authorization;
    private readonly HttpClient? _ownedHttp;
    private readonly SemaphoreSlim _reconnecting = new(1, 1);
    private readonly ClientMetrics _metrics;
    private readonly ClientRequests _requests;
    private McpClient _mcp;

    private TributaryClient(TributaryClientOptions options, TokenSource? tokens, AuthorizationCodeFlow? authorization, HttpClient? ownedHttp, McpClient mcp)
    {
        _options = options;
        _tokens = tokens;
        _authorization = authorization;
        _ownedHttp = ownedHttp;
        _mcp = mcp;
        _metrics = new ClientMetrics(options.MeterFactory);
        _requests = new ClientRequests(Logger(options), _metrics);
    }

    /// <summary>Raised when the connection is lost, being re-established, or back.</summary>
    public event EventHandler<ConnectionStatus>? StatusChanged;

    /// <summary>The SDK client of the current connection (it changes after a reconnect).</summary>
    public McpClient Mcp => Volatile.Read(ref _mcp);

    /// <summary>Connects (retrying transient failures); refused credentials are a <see cref="TributaryAuthenticationException"/>, anything else that does not go away a <see cref="TributaryConnectionException"/>.</summary>
    public static async Task<TributaryClient> ConnectAsync(TributaryClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var tokens = options.OAuth is { } oauth ? new TokenSource(oauth, options.Endpoint!, options.HttpClient ?? SharedHttp) : null;
        var ownedHttp = options.Transport is TributaryTransport.Http or TributaryTransport.Sse && ClientTls.Needed(options) ? ClientTls.CreateHttpClient(options) : null;
        AuthorizationCodeFlow? authorization = null;
        try
        {
            authorization = options.Authorization is { } code ? AuthorizationCodeFlow.Start(code) : null;
            return await ConnectAsync(ownedHttp is null ? options : options with { HttpClient = ownedHttp }, tokens, authorization, ownedHttp, cancellationToken);
        }
        catch
        {
            ownedHttp?.Dispose();
            tokens?.Dispose();
            authorization?.Dispose();
            throw;
        }
    }

    private static async Task<TributaryClient> ConnectAsync(TributaryClientOptions options, TokenSource? tokens, AuthorizationCodeFlow? authorization, HttpClient? ownedHttp, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return new TributaryClient(options, tokens, authorization, ownedHttp, await CreateAsync(options, tokens, authorization, renewToken: false, cancellationToken));
            }
            catch (TributaryAuthenticationException)
            {
                throw;
            }
            catch (Exception e) when (TlsFailure(e) is { } tls)
            {
                // A certificate problem does not go away by trying again.
                throw new TributaryConnectionException(
                    $"the TLS handshake with {Where(options)} failed: {tls.Message} Check that the server's certificate is valid for its name and trusted (TrustedAuthority for a private authority), and the client certificate if the server asks for one.", e);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && Classify(e, cancellationToken) == Failure.Permanent && e is not ArgumentException)
            {
                // It answered, but not as an MCP server does (garbage, another protocol): retrying will not help.
                throw new TributaryConnectionException($"{Where(options)} does not answer as an MCP server: {Describe(e)}", e);
            }
            catch (Exception e) when (Classify(e, cancellationToken) is var kind && kind != Failure.Permanent)
            {
                if (kind == Failure.Authentication)
                {
                    throw AuthenticationFailure(e);
                }

                if (attempt >= (options.Retry.ConnectAttempts ?? options.Retry.Attempts))
                {
                    throw new TributaryConnectionException($"cannot connect to {Where(options)} after {attempt} tries: {Describe(e)}", e);
                }

                await Task.Delay(options.Retry.Delay(attempt + 1), cancellationToken);
            }
        }
    }

    /// <summary>Calls a tool and returns its structured result; a tool error, an unknown tool or arguments the server refuses are a <see cref="TributaryToolException"/>.</summary>
    public Task<JsonElement> CallToolAsync(string name, IReadOnlyDictionary<string, JsonElement>? arguments = null, CancellationToken cancellationToken = default) =>
        RunAsync(async (client, token) =>
        {
            CallToolResult result;
            try
            {
                result = await _requests.SendAsync<CallToolRequestParams, CallToolResult>(client, RequestMethods.ToolsCall, name, new CallToolRequestParams { Name = name, Arguments = arguments?.ToDictionary(a => a.Key, a => a.Value) }, token);
            }
            catch (McpProtocolException e) when (e.ErrorCode is McpErrorCode.InvalidParams or McpErrorCode.MethodNotFound)
            {
                // A tool this caller may not use (or that does not exist), or arguments the server would not take.
                throw new TributaryToolException(name, e.Message);
            }

            var text = string.Concat(result.Content.OfType<TextContentBlock>().Select(b => b.Text));
            if (result.IsError == true)
            {
                throw new TributaryToolException(name, text);
            }

            return result.StructuredContent is { } structured ? structured : JsonElement.Parse(text.Length > 0 ? text : "null");
        }, cancellationToken);

    /// <summary>The sources and topics this caller may use (<c>list_sources</c>).</summary>
    public async Task<SourceList> ListSourcesAsync(CancellationToken cancellationToken = default)
    {
        var result = await CallToolAsync("list_sources", null, cancellationToken);
        return new SourceList(
            [.. result.GetProperty("sources").EnumerateArray().Select(s => new SourceInfo(
                s.GetProperty("name").GetString()!,
                s.GetProperty("kind").GetString()!,
                s.GetProperty("description").GetString() ?? "",
                s.GetProperty("read_only").GetBoolean(),
                s.TryGetProperty("table_count", out var count) && count.ValueKind == JsonValueKind.Number ? count.GetInt32() : null))],
            result.TryGetProperty("topics", out var topics) ? [.. topics.EnumerateArray().Select(t => t.GetProperty("name").GetString()!)] : []);
    }

    /// <summary>A source's schema, or one table's (<c>describe_schema</c>), as the server returns it.</summary>
    public Task<JsonElement> DescribeSchemaAsync(string source, string? table = null, CancellationToken cancellationToken = default) =>
        CallToolAsync("describe_schema", Arguments(("source", source), ("table", table)), cancellationToken);

    /// <summary>
    /// Runs a read-only statement and yields every row, following <c>next_cursor</c> page by page. <paramref name="parameters"/>
    /// binds <c>@name</c> parameters (values as JSON).
    /// </summary>
    public async IAsyncEnumerable<QueryRow> QueryAsync(string source, string sql, IReadOnlyDictionary<string, JsonElement>? parameters = null, int? maxRows = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var arguments = QueryArguments(source, sql, parameters, maxRows);
        while (true)
        {
            var page = await QueryPageAsync(arguments, cancellationToken);
            var columns = page.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("name").GetString()!).ToArray();
            foreach (var row in page.GetProperty("rows").EnumerateArray())
            {
                yield return new QueryRow(columns, [.. row.EnumerateArray()]);
            }

            if (!page.TryGetProperty("next_cursor", out var next) || next.ValueKind != JsonValueKind.String)
            {
                yield break;
            }

            arguments = new Dictionary<string, JsonElement>(Arguments(("cursor", next.GetString())));
        }
    }

    /// <summary>Runs a statement and maps each row (an object of column names and values) to <typeparamref name="T"/>.</summary>
    public async IAsyncEnumerable<T> QueryAsync<T>(string source, string sql, JsonTypeInfo<T> type, IReadOnlyDictionary<string, JsonElement>? parameters = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(type);
        await foreach (var row in QueryAsync(source, sql, parameters, null, cancellationToken))
        {
            yield return row.ToObject().Deserialize(type)!;
        }
    }

    /// <summary>The text of a resource, such as <c>tributary://sources/shop/schema</c>.</summary>
    public Task<string> ReadResourceAsync(string uri, CancellationToken cancellationToken = default) =>
        RunAsync(async (client, token) => string.Concat((await _requests.SendAsync<ReadResourceRequestParams, ReadResourceResult>(client, RequestMethods.ResourcesRead, uri, new ReadResourceRequestParams { Uri = uri }, token)).Contents.OfType<TextResourceContents>().Select(c => c.Text)), cancellationToken);

    /// <summary>Publishes an event to a topic and returns its sequence number.</summary>
    public async Task<long> PublishAsync(string topic, string type, JsonElement data, string? severity = null, CancellationToken cancellationToken = default)
    {
        var arguments = new Dictionary<string, JsonElement>(Arguments(("topic", topic), ("type", type), ("severity", severity))) { ["data"] = data };
        return (await CallToolAsync("publish_event", arguments, cancellationToken)).GetProperty("sequence").GetInt64();
    }

    /// <summary>
    /// Follows a topic: yields the events after <paramref name="after"/> (or, without it, those published from now on),
    /// oldest first, until cancelled. The server tells the client when the topic has new events (<c>subscriptions/listen</c>
    /// on a 2026-07-28 connection, <c>resources/subscribe</c> on an older session; where neither is offered, <c>read_events</c>
    /// waits on the server), and the client then reads from its cursor with <c>read_events</c>. So each event arrives exactly
    /// once, whatever the transport or protocol era, even when a notification is lost, and across a lost connection or an
    /// expired session: after reconnecting it subscribes again and reads from the last cursor.
    /// </summary>
    public async IAsyncEnumerable<TopicEvent> SubscribeAsync(string topic, TopicFilter? filter = null, long? after = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        const long PageSize = 100;
        await using var wakeup = new TopicWakeup(TopicFilter.ResourceUri(topic, filter), _requests);
        var cursor = after ?? (await CallToolAsync("read_events", Arguments(("topic", topic), ("limit", 1L)), cancellationToken)).GetProperty("cursor").GetInt64();
        var serverWait = (long)Math.Clamp(_options.RequestTimeout.TotalMilliseconds - 5_000, 0, 25_000);
        while (!cancellationToken.IsCancellationRequested)
        {
            var notified = await wakeup.EnsureAsync(Mcp, cancellationToken);
            var arguments = new Dictionary<string, JsonElement>(Arguments(("topic", topic), ("after", cursor), ("limit", PageSize), ("wait_ms", notified ? 0L : serverWait)));
            if (filter is not null)
            {
                arguments["filter"] = filter.ToJson();
            }

            var page = await CallToolAsync("read_events", arguments, cancellationToken);
            var count = 0;
            foreach (var e in page.GetProperty("events").EnumerateArray())
            {
                count++;
                yield return TopicEvent.From(topic, e);
            }

            cursor = page.GetProperty("cursor").GetInt64();
            if (notified && count < PageSize)
            {
                // Up to date: wait for the next notification; now and then read anyway, in case one was lost.
                await wakeup.WaitAsync(NotificationSafetyRead, cancellationToken);
            }
        }
    }

    /// <summary>How long a notified subscription waits without news before it reads anyway.</summary>
    private static readonly TimeSpan NotificationSafetyRead = TimeSpan.FromSeconds(10);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_coalescer is { } coalescer)
        {
            await coalescer.DisposeAsync();
        }

        await Mcp.DisposeAsync();
        _reconnecting.Dispose();
        _tokens?.Dispose();
        _authorization?.Dispose();
        _ownedHttp?.Dispose();
        _metrics.Dispose();
    }

    /// <summary>Runs <paramref name="call"/> on the current connection with the request timeout, reconnecting and retrying transient failures.</summary>
    private async Task<T> RunAsync<T>(Func<McpClient, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        var renewed = false;
        for (var attempt = 1; ; attempt++)
        {
            var client = Mcp;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.RequestTimeout);
            try
            {
                return await call(client, timeout.Token);
            }
            catch (Exception e) when (Classify(e, cancellationToken) is var kind && kind != Failure.Permanent)
            {
                if (kind == Failure.Authentication)
                {
                    // An OAuth token may have expired or been revoked: one new token and connection, then give up (no 401 loop).
                    if (_tokens is null || renewed)
                    {
                        throw AuthenticationFailure(e);
                    }

                    renewed = true;
                    await ReconnectAsync(client, renewToken: true, cancellationToken);
                    continue;
                }

                if (attempt >= _options.Retry.Attempts)
                {
                    StatusChanged?.Invoke(this, ConnectionStatus.Lost);
                    throw new TributaryConnectionException($"{Where(_options)} did not answer after {attempt} tries: {Describe(e)}", e);
                }

                await Task.Delay(_options.Retry.Delay(attempt + 1), cancellationToken);
                await ReconnectAsync(client, renewToken: false, cancellationToken);
            }
        }
    }

    /// <summary>Replaces <paramref name="failed"/> with a new connection (a new session or stateless exchange), unless another caller already did.</summary>
    private async Task ReconnectAsync(McpClient failed, bool renewToken, CancellationToken cancellationToken)
    {
        await _reconnecting.WaitAsync(cancellationToken);
        try
        {
            if (!ReferenceEquals(Mcp, failed))
            {
                return;
            }

            StatusChanged?.Invoke(this, ConnectionStatus.Reconnecting);
            McpClient fresh;
            try
            {
                fresh = await CreateAsync(_options, _tokens, _authorization, renewToken, cancellationToken);
            }
            catch (Exception e) when (Classify(e, cancellationToken) == Failure.Transient)
            {
                // Still down: the caller's next try reconnects again.
                return;
            }

            Volatile.Write(ref _mcp, fresh);
            _metrics.Reconnected();
            StatusChanged?.Invoke(this, ConnectionStatus.Connected);
            try
            {
                await failed.DisposeAsync();
            }
            catch (Exception e) when (e is IOException or HttpRequestException or ObjectDisposedException or InvalidOperationException)
            {
                // The old connection is gone already.
            }
        }
        finally
        {
            _reconnecting.Release();
        }
    }

    private static readonly HttpClient SharedHttp = new() { Timeout = TimeSpan.FromSeconds(30) };

    private static async Task<McpClient> CreateAsync(TributaryClientOptions options, TokenSource? tokens, AuthorizationCodeFlow? authorization, bool renewToken, CancellationToken cancellationToken)
    {
        // A person may be signing in during the first request: the connection waits for that too.
        var budget = options.RequestTimeout + (authorization?.Timeout ?? TimeSpan.Zero);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(budget);
        var clientOptions = new McpClientOptions { ClientInfo = new Implementation { Name = "tributary-client", Version = "0.1.0" }, ProtocolVersion = options.ProtocolVersion, InitializationTimeout = budget };
        clientOptions.Handlers.ElicitationHandler = options.ElicitationHandler;
        if (authorization is not null)
        {
            clientOptions.DiscoverProbeTimeout = budget;
        }

        var loggers = options.LoggerFactory is { } factory ? new WithoutTraceLoggerFactory(factory) : null;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await McpClient.CreateAsync(await CreateTransportAsync(options, tokens, authorization, renewToken && attempt == 1, cancellationToken), clientOptions, loggers, timeout.Token);
            }
            catch (Exception e) when (options.ProtocolVersion is null && attempt < 3 && InitializeRevisionToTry(e) is { } revision)
            {
                clientOptions.ProtocolVersion = revision;
            }
        }
    }

    /// <summary>
    /// The revision to connect with by <c>initialize</c> after <paramref name="error"/>, when it shows a server of the initialize
    /// era that the SDK's negotiation stumbled on; null otherwise.
    /// </summary>
    private static string? InitializeRevisionToTry(Exception error)
    {
        // It answered the 2026-07-28 probe (server/discover) with something that is not a discover result, as servers of
        // the initialize era that answer any unknown method with an empty result do.
        if (error is JsonException && error.Message.Contains(nameof(DiscoverResult), StringComparison.Ordinal))
        {
            return "2025-11-25";
        }

        // It answered initialize with an older revision than the one asked for, which the SDK refuses once one is asked for.
        const string Mismatch = "Server protocol version mismatch.";
        return error is McpException && error.Message.StartsWith(Mismatch, StringComparison.Ordinal) &&
            error.Message[(error.Message.LastIndexOf(' ') + 1)..] is var offered && OlderInitializeRevisions.Contains(offered)
            ? offered
            : null;
    }

    /// <summary>Protocol revisions before 2025-11-25 that a server may answer <c>initialize</c> with.</summary>
    private static readonly string[] OlderInitializeRevisions = ["2025-06-18", "2025-03-26", "2024-11-05"];

    private static async Task<IClientTransport> CreateTransportAsync(TributaryClientOptions options, TokenSource? tokens, AuthorizationCodeFlow? authorization, bool renewToken, CancellationToken cancellationToken)
    {
        IClientTransport transport;
        if (options.Transport == TributaryTransport.Stdio)
        {
            var environment = options.Environment.ToDictionary(e => e.Key, e => e.Value);
            if (options.ApiKey is { } key)
            {
                environment["TRIBUTARY_API_KEY"] = key;
            }

            transport = new BoundedStdioClientTransport(options.Command!, options.Arguments, environment);
        }
        else
        {
            var headers = new Dictionary<string, string>();
            if ((tokens is null ? options.BearerToken : await tokens.GetAsync(renewToken, cancellationToken)) is { } token)
            {
                headers["Authorization"] = $"Bearer {token}";
            }

            if (options.ApiKey is { } key)
            {
                headers["X-API-Key"] = key;
            }

            if (options.Transport == TributaryTransport.WebSocket)
            {
                transport = new Tributary.WebSockets.WebSocketClientTransport(options.Endpoint!, headers, ClientTls.ConfigureWebSocket(options));
            }
            else
            {
                var http = new HttpClientTransportOptions
                {
                    Endpoint = options.Endpoint!,
                    TransportMode = options.Transport == TributaryTransport.Sse ? HttpTransportMode.Sse : HttpTransportMode.StreamableHttp,
                    AdditionalHeaders = headers,
                    ConnectionTimeout = options.RequestTimeout,
                    OAuth = authorization?.CreateOptions(),
                };
                transport = options.HttpClient is { } client ? new HttpClientTransport(http, client, ownsHttpClient: false) : new HttpClientTransport(http);
            }
        }

        return transport;
    }

    private enum Failure
    {
        Permanent,
        Transient,
        Authentication,
    }

    /// <summary>What a failure is: refused credentials, something a new connection or a later try may fix, or neither.</summary>
    private static Failure Classify(Exception error, CancellationToken caller) => error switch
    {
        _ when caller.IsCancellationRequested => Failure.Permanent,
        TributaryToolException => Failure.Permanent,
        TributaryAuthenticationException => Failure.Authentication,
        _ when TlsFailure(error) is not null => Failure.Permanent,
        HttpRequestException { StatusCode: HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden } => Failure.Authentication,
        HttpRequestException { StatusCode: null or HttpStatusCode.NotFound or HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError } => Failure.Transient,
        InvalidDataException => Failure.Permanent,
        OperationCanceledException or TimeoutException or IOException or ClientTransportClosedException or System.Net.WebSockets.WebSocketException => Failure.Transient,
        McpException { InnerException: { } inner } => Classify(inner, caller),
        McpException when OAuthFailures.Any(f => error.Message.StartsWith(f, StringComparison.Ordinal)) => Failure.Authentication,
        McpProtocolException { ErrorCode: McpErrorCode.InternalError } => Failure.Transient,
        McpException when error.Message.Contains("session", StringComparison.OrdinalIgnoreCase) => Failure.Transient,
        _ => Failure.Permanent,
    };

    /// <summary>The TLS handshake's failure inside <paramref name="error"/>, if that is what it is.</summary>
    private static System.Security.Authentication.AuthenticationException? TlsFailure(Exception? error)
    {
        for (; error is not null; error = error.InnerException)
        {
            if (error is System.Security.Authentication.AuthenticationException tls)
            {
                return tls;
            }
        }

        return null;
    }

    /// <summary>How the SDK's OAuth support begins the messages of an authorization it could not complete (the first, most of them).</summary>
    private static readonly string[] OAuthFailures =
    [
        "Failed to handle unauthorized response", "Resource URI in metadata", "Failed to fetch resource metadata", "Failed to find .well-known", "The server does not support the 'Bearer'",
    ];

    /// <summary>A refusal as a <see cref="TributaryAuthenticationException"/> that says what failed: our own as it is, the SDK's OAuth failures without its preamble.</summary>
    private static TributaryAuthenticationException AuthenticationFailure(Exception error) => error switch
    {
        TributaryAuthenticationException own => own,
        McpException when error.Message.StartsWith(OAuthFailures[0], StringComparison.Ordinal) =>
            new TributaryAuthenticationException($"the OAuth authorization failed: {error.Message[(error.Message.IndexOf(". ", StringComparison.Ordinal) + 2)..]}", error),
        McpException => new TributaryAuthenticationException($"the OAuth authorization failed: {error.Message}", error),
        _ => new TributaryAuthenticationException($"the server refused the credentials: {Describe(error)}", error),
    };

    private static string Describe(Exception error) => error is HttpRequestException { StatusCode: { } status } ? $"HTTP {(int)status} {status}: {error.Message}" : error.Message;

    private static Microsoft.Extensions.Logging.ILogger Logger(TributaryClientOptions options) =>
        options.LoggerFactory?.CreateLogger("Tributary.Client") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    private static string Where(TributaryClientOptions options) => options.Transport == TributaryTransport.Stdio ? $"'{options.Command}'" : options.Endpoint!.ToString();

    private static Dictionary<string, JsonElement> Arguments(params (string Name, object? Value)[] values)
    {
        var arguments = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var (name, value) in values)
        {
            switch (value)
            {
                case null:
                    break;
                case string text:
                    arguments[name] = Json(w => w.WriteStringValue(text));
                    break;
                case long number:
                    arguments[name] = Json(w => w.WriteNumberValue(number));
                    break;
                default:
                    throw new ArgumentException($"unsupported argument type {value.GetType().Name}", nameof(values));
            }
        }

        return arguments;
    }

    internal static JsonElement Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return JsonElement.Parse(buffer.WrittenSpan);
    }
}
