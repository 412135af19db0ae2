using System.Web;
using ModelContextProtocol.Authentication;

namespace Tributary.Client;

/// <summary>
/// OAuth 2.1 authorization code with PKCE (S256), for a person signing in, through the MCP SDK's OAuth support: on the
/// server's first 401 the client reads its protected resource metadata (RFC 9728) and its authorization server's metadata
/// (RFC 8414 or OpenID Connect), identifies itself (<see cref="ClientId"/>, else a client ID metadata document, else
/// dynamic client registration), sends the user to the authorization page, receives the redirect on a loopback listener
/// (127.0.0.1, an ephemeral port, RFC 8252) and exchanges the code for tokens for this server (RFC 8707
/// <c>resource</c>), refreshing them as they expire. Only an https (or loopback http) authorization page is ever shown,
/// and no address goes through a shell.
/// </summary>
public sealed record OAuthAuthorizationCode
{
    /// <summary>A client ID registered with the authorization server; without one the client uses <see cref="ClientMetadataDocument"/> or registers itself (RFC 7591).</summary>
    public string? ClientId { get; init; }

    /// <summary>The secret of a registered confidential client; none for a public client (the usual case for a program a person runs).</summary>
    public string? ClientSecret { get; init; }

    /// <summary>An https URL of this client's metadata document, used as its client ID where the authorization server supports client ID metadata documents; none by default.</summary>
    public Uri? ClientMetadataDocument { get; init; }

    /// <summary>The name shown to the user when the client registers itself; default <c>Tributary client</c>.</summary>
    public string ClientName { get; init; } = "Tributary client";

    /// <summary>Scopes to ask for when neither the server's challenge nor its metadata names any; none by default.</summary>
    public IReadOnlyList<string> Scopes { get; init; } = [];

    /// <summary>
    /// The redirect URI; default <c>http://127.0.0.1:{an ephemeral port}/callback</c>, where the client listens for the
    /// redirect itself. Set one (<c>http://127.0.0.1:PORT/PATH</c>) for an authorization server that wants a fixed port,
    /// or any URI your <see cref="Authorize"/> receives.
    /// </summary>
    public Uri? RedirectUri { get; init; }

    /// <summary>
    /// Shows the user the authorization page (such as in a browser) while the loopback listener waits for the redirect;
    /// by default the page's address is written to standard error for the user to open.
    /// </summary>
    public Func<Uri, CancellationToken, Task>? OpenAuthorizationPage { get; init; }

    /// <summary>
    /// Takes the place of the loopback listener and <see cref="OpenAuthorizationPage"/>: given the authorization page and the
    /// redirect URI, it returns the redirect the authorization server answered with (the URI with <c>code</c> and
    /// <c>state</c>, or <c>error</c>). None by default.
    /// </summary>
    public Func<Uri, Uri, CancellationToken, Task<Uri>>? Authorize { get; init; }

    /// <summary>How long the user has to complete the authorization; default 5 minutes.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Where tokens (and a registration) are kept between connections, such as a store of yours that outlives the process; in memory for the client's life by default.</summary>
    public ITokenCache? TokenCache { get; init; }

    internal void Validate()
    {
        if (Timeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("Authorization.Timeout must be positive");
        }

        if (Authorize is null && RedirectUri is not null && !LoopbackRedirectListener.CanListenOn(RedirectUri))
        {
            throw new ArgumentException($"Authorization.RedirectUri '{RedirectUri}' is not one the client can listen on: use http://127.0.0.1:PORT/PATH, or set Authorization.Authorize to receive the redirect yourself");
        }

        if (ClientMetadataDocument is { } document && document.Scheme != Uri.UriSchemeHttps)
        {
            throw new ArgumentException($"Authorization.ClientMetadataDocument must be an https URL, not '{document}'");
        }
    }
}

/// <summary>One client's authorization code flow: the SDK's OAuth options, the loopback listener and the tokens, shared by every connection it makes.</summary>
internal sealed class AuthorizationCodeFlow : IDisposable
{
    private readonly OAuthAuthorizationCode _settings;
    private readonly ITokenCache _tokens;
    private readonly LoopbackRedirectListener? _listener;

    private AuthorizationCodeFlow(OAuthAuthorizationCode settings, LoopbackRedirectListener? listener)
    {
        _settings = settings;
        _listener = listener;
        _tokens = settings.TokenCache ?? new MemoryTokenCache();
    }

    /// <summary>The longest an authorization may take.</summary>
    public TimeSpan Timeout => _settings.Timeout;

    /// <summary>Starts the loopback listener (unless <see cref="OAuthAuthorizationCode.Authorize"/> replaces it).</summary>
    public static AuthorizationCodeFlow Start(OAuthAuthorizationCode settings) =>
        new(settings, settings.Authorize is null ? LoopbackRedirectListener.Start(settings.RedirectUri) : null);

    /// <summary>The SDK's OAuth options for one new connection.</summary>
    public ClientOAuthOptions CreateOptions() => new()
    {
        RedirectUri = _listener?.RedirectUri ?? _settings.RedirectUri ?? throw new ArgumentException("Authorization.RedirectUri is needed with Authorization.Authorize"),
        ClientId = _settings.ClientId,
        ClientSecret = _settings.ClientSecret,
        ClientMetadataDocumentUri = _settings.ClientMetadataDocument,
        Scopes = _settings.Scopes.Count > 0 ? _settings.Scopes : null,
        DynamicClientRegistration = _settings.ClientId is null ? new DynamicClientRegistrationOptions { ClientName = _settings.ClientName } : null,
        AuthorizationCallbackHandler = AuthorizeAsync,
        TokenCache = _tokens,
    };

    /// <inheritdoc />
    public void Dispose() => _listener?.Dispose();

    /// <summary>True for the only addresses shown to a user: https, or http on a loopback address.</summary>
    public static bool IsSafePage(Uri uri) =>
        uri.IsAbsoluteUri && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback));

    /// <summary>Called by the SDK with the authorization page it built (PKCE challenge, state, resource, scopes): returns the redirect's code, state and issuer.</summary>
    private async Task<AuthorizationResult?> AuthorizeAsync(AuthorizationCallbackContext context, CancellationToken cancellationToken)
    {
        var page = context.AuthorizationUri;
        if (!IsSafePage(page))
        {
            throw new TributaryAuthenticationException($"the OAuth authorization failed: the authorization endpoint must be https (or http on a loopback address), and '{page.GetLeftPart(UriPartial.Path)}' is not: it was not opened");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_settings.Timeout);
        Uri redirect;
        try
        {
            if (_settings.Authorize is { } authorize)
            {
                redirect = await authorize(page, context.RedirectUri, timeout.Token);
            }
            else
            {
                var received = _listener!.ReceiveAsync(timeout.Token);
                await (_settings.OpenAuthorizationPage ?? WriteToStandardError)(page, timeout.Token);
                redirect = await received;
            }
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TributaryAuthenticationException($"no authorization arrived within {_settings.Timeout.TotalSeconds:0} s: complete the authorization page, or allow more time with Authorization.Timeout", e);
        }

        var answer = HttpUtility.ParseQueryString(redirect.Query);
        if (answer["error"] is { } error)
        {
            throw new TributaryAuthenticationException($"the authorization server refused the authorization: {error}{(answer["error_description"] is { } description ? $": {description}" : "")}");
        }

        return new AuthorizationResult { Code = answer["code"], State = answer["state"], Iss = answer["iss"] };
    }

    private static async Task WriteToStandardError(Uri page, CancellationToken cancellationToken) =>
        await Console.Error.WriteLineAsync($"Open this page to authorize Tributary's client: {page}".AsMemory(), cancellationToken);

    /// <summary>Tokens (and a dynamic registration) kept in memory, across the client's connections.</summary>
    private sealed class MemoryTokenCache : ITokenCache
    {
        private TokenContainer? _tokens;

        public ValueTask StoreTokensAsync(TokenContainer tokens, CancellationToken cancellationToken)
        {
            Volatile.Write(ref _tokens, tokens);
            return default;
        }

        public ValueTask<TokenContainer?> GetTokensAsync(CancellationToken cancellationToken) => new(Volatile.Read(ref _tokens));
    }
}
