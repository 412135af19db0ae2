namespace Tributary.Client;

/// <summary>How a <see cref="TributaryClient"/> reaches its server.</summary>
public enum TributaryTransport
{
    /// <summary>Streamable HTTP at <see cref="TributaryClientOptions.Endpoint"/> (such as <c>http://127.0.0.1:8080/mcp</c>).</summary>
    Http,

    /// <summary>The legacy HTTP+SSE transport at <see cref="TributaryClientOptions.Endpoint"/> (such as <c>http://127.0.0.1:8080/sse</c>).</summary>
    Sse,

    /// <summary>A server process started with <see cref="TributaryClientOptions.Command"/>, speaking MCP on its stdin and stdout.</summary>
    Stdio,

    /// <summary>MCP over WebSocket at <see cref="TributaryClientOptions.Endpoint"/> (such as <c>ws://127.0.0.1:8080/ws</c>): a custom transport, the MCP proposal for it is a draft.</summary>
    WebSocket,
}

/// <summary>Where and how to connect, with which credentials, and how hard to try.</summary>
public sealed record TributaryClientOptions
{
    /// <summary>The transport; default Streamable HTTP.</summary>
    public TributaryTransport Transport { get; init; } = TributaryTransport.Http;

    /// <summary>The server's endpoint (HTTP and SSE).</summary>
    public Uri? Endpoint { get; init; }

    /// <summary>The command that starts the server (stdio), such as <c>tributary</c>.</summary>
    public string? Command { get; init; }

    /// <summary>Its arguments, such as <c>serve --stdio --config tributary.yaml</c>.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Environment variables for the server process (stdio); a null value removes one.</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>A bearer token (OAuth access token) sent as <c>Authorization: Bearer</c> (HTTP and SSE).</summary>
    public string? BearerToken { get; init; }

    /// <summary>OAuth 2.1 client credentials, for a program acting for itself: the client gets (and renews) its own bearer token (HTTP, SSE and WebSocket).</summary>
    public OAuthClientCredentials? OAuth { get; init; }

    /// <summary>OAuth 2.1 authorization code with PKCE, for a person signing in through the authorization server's page: the SDK's OAuth support gets and refreshes the tokens (HTTP and SSE).</summary>
    public OAuthAuthorizationCode? Authorization { get; init; }

    /// <summary>A Tributary API key (<c>trib_...</c>) sent as <c>X-API-Key</c> (HTTP and SSE), or as <c>TRIBUTARY_API_KEY</c> to a stdio server.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The MCP protocol revision to ask for, such as <c>2025-11-25</c>; by default the newest the SDK speaks, falling back to what the server offers.</summary>
    public string? ProtocolVersion { get; init; }

    /// <summary>
    /// Answers a server that asks the user for input (MCP elicitation, such as a confirmation or a form); the SDK fills in the
    /// defaults of the fields an answer leaves out. None by default, and then the client does not offer elicitation.
    /// </summary>
    public Func<ModelContextProtocol.Protocol.ElicitRequestParams?, CancellationToken, ValueTask<ModelContextProtocol.Protocol.ElicitResult>>? ElicitationHandler { get; init; }

    /// <summary>The longest one request may take before it is cancelled.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries of transient failures.</summary>
    public RetryPolicy Retry { get; init; } = new();

    /// <summary>The HTTP client to use (for proxies or TLS settings of your own); a new one by default.</summary>
    public HttpClient? HttpClient { get; init; }

    /// <summary>A client certificate (with its private key) presented to a server that asks for one (mTLS), over HTTPS, SSE and WSS.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate { get; init; }

    /// <summary>A private certificate authority that issued the server's certificate: trusted for this server instead of the system's roots.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? TrustedAuthority { get; init; }

    /// <summary>Coalescing of concurrent queries into <c>batch_query</c> calls; off (null) by default.</summary>
    public QueryCoalescing? Coalescing { get; init; }

    /// <summary>Extra settings of the WebSocket (client certificates, TLS validation, proxy).</summary>
    public Action<System.Net.WebSockets.ClientWebSocketOptions>? ConfigureWebSocket { get; init; }

    /// <summary>Where the client logs: each request's method and outcome at Debug, its parameters and result at Trace (secrets redacted), failures at Warning.</summary>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Creates the <c>Tributary.Client</c> meter (request duration, requests, errors, reconnects); a meter of its own by default.</summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; init; }

    /// <summary>Checks that the options are whole for their transport; a problem is an <see cref="ArgumentException"/>.</summary>
    public void Validate()
    {
        if (Transport is TributaryTransport.Http or TributaryTransport.Sse && (Endpoint is null || Endpoint.Scheme is not ("http" or "https")))
        {
            throw new ArgumentException($"{Transport} needs an http(s) Endpoint, such as http://127.0.0.1:8080/mcp");
        }

        if (Transport == TributaryTransport.WebSocket && (Endpoint is null || Endpoint.Scheme is not ("ws" or "wss")))
        {
            throw new ArgumentException("WebSocket needs a ws(s) Endpoint, such as ws://127.0.0.1:8080/ws");
        }

        if (Transport == TributaryTransport.Stdio && string.IsNullOrWhiteSpace(Command))
        {
            throw new ArgumentException("Stdio needs the Command that starts the server, such as tributary with Arguments serve --stdio");
        }

        if (HttpClient is not null && (ClientCertificate is not null || TrustedAuthority is not null))
        {
            throw new ArgumentException("ClientCertificate and TrustedAuthority configure the client's own HTTP client: with an HttpClient of yours, set them on its handler instead");
        }

        if (ClientCertificate is { HasPrivateKey: false })
        {
            throw new ArgumentException($"the client certificate '{ClientCertificate.Subject}' has no private key: load it with its key (PEM certificate and key, or PKCS#12)");
        }

        if (new object?[] { BearerToken, OAuth, Authorization }.Count(c => c is not null) > 1)
        {
            throw new ArgumentException("BearerToken, OAuth (client credentials) and Authorization (authorization code) each supply the bearer token: set one of them");
        }

        OAuth?.Validate();
        if (Authorization is not null)
        {
            if (Transport is not (TributaryTransport.Http or TributaryTransport.Sse))
            {
                throw new ArgumentException($"Authorization (authorization code) works over Http and Sse, not {Transport}: get a token first and pass it as BearerToken");
            }

            Authorization.Validate();
        }

        if (RequestTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("RequestTimeout must be positive");
        }

        Coalescing?.Validate();
    }
}

/// <summary>
/// Retries of transient failures (a connection refused or dropped, a timeout, a server error of HTTP 5xx or 429, an
/// expired session): up to <see cref="Attempts"/> tries, waiting <see cref="FirstDelay"/> doubled each time up to
/// <see cref="MaxDelay"/>, with up to a quarter of jitter. Tool errors and refused credentials are not retried.
/// </summary>
public sealed record RetryPolicy
{
    /// <summary>Tries in all, the first included.</summary>
    public int Attempts { get; init; } = 4;

    /// <summary>Tries for the first connection (default <see cref="Attempts"/>): a long-running follower may wait longer for a server it was connected to than for one it never reached.</summary>
    public int? ConnectAttempts { get; init; }

    /// <summary>The wait before the second try.</summary>
    public TimeSpan FirstDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest wait between tries.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The wait before try number <paramref name="attempt"/> (2 for the first retry).</summary>
    public TimeSpan Delay(int attempt)
    {
        var delay = Math.Min(MaxDelay.TotalMilliseconds, FirstDelay.TotalMilliseconds * Math.Pow(2, Math.Max(0, attempt - 2)));
        return TimeSpan.FromMilliseconds(delay + (Random.Shared.NextDouble() * delay / 4));
    }
}
