using System.Buffers.Text;
using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Tributary.Testing;

/// <summary>A client registered with <see cref="TestAuthorizationServer"/>.</summary>
/// <param name="Id">The <c>client_id</c>.</param>
/// <param name="Secret">
/// The <c>client_secret</c> of a confidential client (sent as <c>client_secret_post</c> or HTTP Basic); null for a public
/// client, which may only use the authorization code grant.
/// </param>
/// <param name="RedirectUri">
/// The only redirect URI the client may use; null when the client does not use the authorization code grant. A loopback
/// <c>http</c> URI matches on any port (RFC 8252, section 7.3).
/// </param>
public sealed record TestClient(string Id, string? Secret = null, Uri? RedirectUri = null);

/// <summary>How a <see cref="TestAuthorizationServer"/> is set up.</summary>
public sealed record TestAuthorizationServerOptions
{
    /// <summary>The clients it knows. Default: <see cref="TestAuthorizationServer.DefaultConfidentialClient"/> and <see cref="TestAuthorizationServer.DefaultPublicClient"/>.</summary>
    public IReadOnlyList<TestClient> Clients { get; init; } = [TestAuthorizationServer.DefaultConfidentialClient, TestAuthorizationServer.DefaultPublicClient];

    /// <summary>How long access tokens live (their <c>exp</c> minus <c>iat</c>). Default: one hour.</summary>
    public TimeSpan AccessTokenLifetime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Which metadata documents it serves (the other path answers 404). Default: both, as most issuers do; one alone
    /// stands for an issuer that speaks only OpenID Connect discovery or only RFC 8414.
    /// </summary>
    public TestMetadataDocuments MetadataDocuments { get; init; } = TestMetadataDocuments.OpenIdConnect | TestMetadataDocuments.OAuthAuthorizationServer;
}

/// <summary>The issuer metadata documents a <see cref="TestAuthorizationServer"/> can serve.</summary>
[Flags]
public enum TestMetadataDocuments
{
    /// <summary>OpenID Connect discovery, at <c>/.well-known/openid-configuration</c>.</summary>
    OpenIdConnect = 1,

    /// <summary>RFC 8414 authorization server metadata, at <c>/.well-known/oauth-authorization-server</c>.</summary>
    OAuthAuthorizationServer = 2,
}

/// <summary>
/// A real OAuth 2.1 / OpenID Connect authorization server (OpenIddict) on a free loopback port, plain HTTP, issuing
/// RS256-signed JWT access tokens for the client credentials grant and the authorization code grant with PKCE (S256).
/// </summary>
/// <remarks>
/// <para>
/// Access tokens carry <c>iss</c> (<see cref="Issuer"/>), <c>sub</c>, <c>aud</c> (the RFC 8707 <c>resource</c>
/// parameters), <c>scope</c> (space separated), <c>client_id</c>, <c>iat</c>, <c>exp</c> and <c>jti</c>; they are
/// signed, not encrypted. Any scope and any absolute resource URI is accepted. Discovery is served at
/// <c>/.well-known/openid-configuration</c> and <c>/.well-known/oauth-authorization-server</c> (or only one of them, as
/// <see cref="TestAuthorizationServerOptions.MetadataDocuments"/> says), the key set at <see cref="JwksUri"/>.
/// </para>
/// <para>
/// The authorization endpoint has no login page: it signs in at once the user named by the standard <c>login_hint</c>
/// parameter (<see cref="DefaultSubject"/> without one) with the extra claims of the JSON object in
/// <see cref="ClaimsParameter"/>, and redirects back with the code. <see cref="AuthorizeAsync"/> does that request as a
/// browser would. Without stores (OpenIddict's degraded mode) the server checks clients, secrets and redirect URIs
/// itself; OpenIddict checks PKCE, codes and redirect URI binding. Codes are self-contained, so one can be redeemed more
/// than once within its lifetime.
/// </para>
/// </remarks>
public sealed class TestAuthorizationServer : IAsyncDisposable
{
    /// <summary>The user the authorization endpoint signs in when the request has no <c>login_hint</c>.</summary>
    public const string DefaultSubject = "test-user";

    /// <summary>The authorization request parameter holding a JSON object of extra user claims, such as <c>{"customer_id":"3"}</c>.</summary>
    public const string ClaimsParameter = "test_claims";

    /// <summary>The default confidential client, for the client credentials grant.</summary>
    public static readonly TestClient DefaultConfidentialClient = new("tributary-test-service", "tributary-test-secret");

    /// <summary>The default public client, for the authorization code grant with PKCE.</summary>
    public static readonly TestClient DefaultPublicClient = new("tributary-test-app", RedirectUri: new Uri("http://127.0.0.1/callback"));

    // Claims the server sets itself: a test cannot pass them as extra user claims.
    private static readonly FrozenSet<string> ReservedClaims = new[]
    {
        Claims.Subject, Claims.Issuer, Claims.Audience, Claims.ExpiresAt, Claims.NotBefore, Claims.IssuedAt, Claims.JwtId, Claims.Scope, Claims.ClientId,
    }.ToFrozenSet(StringComparer.Ordinal);

    private readonly Dictionary<string, TestClient> _clients;
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false });
    private readonly List<RSA> _rsaKeys = [];
    private readonly Lock _keysLock = new();
    private ImmutableArray<RsaSecurityKey> _signingKeys = []; // newest first: OpenIddict signs with the first
    private WebApplication? _app;
    private Uri? _issuer;

    private TestAuthorizationServer(TestAuthorizationServerOptions options)
    {
        Options = options;
        _clients = options.Clients.ToDictionary(c => c.Id, StringComparer.Ordinal);
    }

    /// <summary>The setup it runs with.</summary>
    public TestAuthorizationServerOptions Options { get; }

    /// <summary>The issuer, such as <c>http://127.0.0.1:41234/</c>: the <c>iss</c> of its tokens and the base of its endpoints.</summary>
    public Uri Issuer => _issuer ?? throw new InvalidOperationException("The authorization server is not started.");

    /// <summary>The OpenID Connect discovery document (404 when <see cref="TestAuthorizationServerOptions.MetadataDocuments"/> leaves it out).</summary>
    public Uri DiscoveryEndpoint => new(Issuer, ".well-known/openid-configuration");

    /// <summary>The RFC 8414 authorization server metadata (404 when <see cref="TestAuthorizationServerOptions.MetadataDocuments"/> leaves it out).</summary>
    public Uri MetadataEndpoint => new(Issuer, ".well-known/oauth-authorization-server");

    /// <summary>The JSON Web Key Set with the public signing keys.</summary>
    public Uri JwksUri => new(Issuer, ".well-known/jwks");

    /// <summary>The authorization endpoint.</summary>
    public Uri AuthorizationEndpoint => new(Issuer, "connect/authorize");

    /// <summary>The token endpoint.</summary>
    public Uri TokenEndpoint => new(Issuer, "connect/token");

    /// <summary>The <c>kid</c> of the key that signs new tokens.</summary>
    public string SigningKeyId
    {
        get
        {
            lock (_keysLock)
            {
                return _signingKeys[0].KeyId;
            }
        }
    }

    /// <summary>The first confidential client of <see cref="Options"/>, used by <see cref="ClientCredentialsTokenAsync"/>.</summary>
    public TestClient ConfidentialClient => Options.Clients.FirstOrDefault(c => c.Secret is not null)
        ?? throw new InvalidOperationException("No confidential client (one with a secret) is registered.");

    /// <summary>The first public client with a redirect URI of <see cref="Options"/>, used by <see cref="AuthorizationCodeTokenAsync(string, string, string[])"/>.</summary>
    public TestClient PublicClient => Options.Clients.FirstOrDefault(c => c.Secret is null && c.RedirectUri is not null)
        ?? throw new InvalidOperationException("No public client with a redirect URI is registered.");

    /// <summary>The server's log messages (OpenIddict's at information level and above, which say why a request was rejected).</summary>
    public CollectedLogs Logs { get; } = new();

    /// <summary>Starts a server on a free loopback port with <paramref name="options"/> (the defaults when null).</summary>
    public static async Task<TestAuthorizationServer> StartAsync(TestAuthorizationServerOptions? options = null)
    {
        var server = new TestAuthorizationServer(options ?? new TestAuthorizationServerOptions());
        try
        {
            await server.StartHostAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Gets an access token for <paramref name="resource"/> with <paramref name="scopes"/> by the client credentials
    /// grant, as <see cref="ConfidentialClient"/>; its <c>sub</c> is the client id.
    /// </summary>
    public Task<string> ClientCredentialsTokenAsync(string resource, params string[] scopes)
    {
        var client = ConfidentialClient;
        return TokenAsync(
        [
            new(Parameters.GrantType, GrantTypes.ClientCredentials),
            new(Parameters.ClientId, client.Id),
            new(Parameters.ClientSecret, client.Secret!),
            new(Parameters.Resource, resource),
            new(Parameters.Scope, string.Join(' ', scopes)),
        ]);
    }

    /// <summary>
    /// Gets an access token for <paramref name="resource"/> with <paramref name="scopes"/> for user
    /// <paramref name="subject"/> by the authorization code grant with PKCE, as <see cref="PublicClient"/>.
    /// </summary>
    public Task<string> AuthorizationCodeTokenAsync(string resource, string subject, params string[] scopes) =>
        AuthorizationCodeTokenAsync(resource, subject, new Dictionary<string, string>(), scopes);

    /// <summary>
    /// Gets an access token for <paramref name="resource"/> with <paramref name="scopes"/> for user
    /// <paramref name="subject"/>, whose extra <paramref name="claims"/> (such as <c>customer_id</c>) the token carries,
    /// by the authorization code grant with PKCE, as <see cref="PublicClient"/>.
    /// </summary>
    public async Task<string> AuthorizationCodeTokenAsync(string resource, string subject, IReadOnlyDictionary<string, string> claims, params string[] scopes)
    {
        var client = PublicClient;
        var (verifier, challenge) = CreateProofKey();
        var request = QueryHelpers.AddQueryString(AuthorizationEndpoint.AbsoluteUri, new Dictionary<string, string?>
        {
            [Parameters.ResponseType] = ResponseTypes.Code,
            [Parameters.ClientId] = client.Id,
            [Parameters.RedirectUri] = client.RedirectUri!.AbsoluteUri,
            [Parameters.Scope] = string.Join(' ', scopes),
            [Parameters.Resource] = resource,
            [Parameters.CodeChallenge] = challenge,
            [Parameters.CodeChallengeMethod] = CodeChallengeMethods.Sha256,
            [Parameters.State] = RandomValue(),
        });
        var code = await AuthorizeAsync(new Uri(request), subject, claims);
        return await TokenAsync(
        [
            new(Parameters.GrantType, GrantTypes.AuthorizationCode),
            new(Parameters.ClientId, client.Id),
            new(Parameters.Code, code),
            new(Parameters.RedirectUri, client.RedirectUri.AbsoluteUri),
            new(Parameters.CodeVerifier, verifier),
            new(Parameters.Resource, resource),
        ]);
    }

    /// <summary>
    /// Sends <paramref name="authorizationRequest"/> (an authorization endpoint URI with its query) as a browser would,
    /// with user <paramref name="subject"/> and extra <paramref name="claims"/> signing in, and returns the <c>code</c>
    /// from the redirect without following it.
    /// </summary>
    /// <remarks>Fits an SDK's authorization redirect callback: give it the URI the SDK would open in a browser.</remarks>
    /// <exception cref="InvalidOperationException">The server refused the request (the message has its error).</exception>
    public async Task<string> AuthorizeAsync(Uri authorizationRequest, string subject = DefaultSubject, IReadOnlyDictionary<string, string>? claims = null)
    {
        claims ??= new Dictionary<string, string>();
        if (claims.Keys.FirstOrDefault(ReservedClaims.Contains) is { } reserved)
        {
            throw new ArgumentException($"The claim '{reserved}' is set by the authorization server itself.", nameof(claims));
        }

        var sent = QueryHelpers.ParseQuery(authorizationRequest.Query);
        var uri = QueryHelpers.AddQueryString(authorizationRequest.AbsoluteUri, new Dictionary<string, string?>
        {
            [Parameters.LoginHint] = subject,
            [ClaimsParameter] = JsonSerializer.Serialize(claims),
        });
        using var response = await _http.GetAsync(new Uri(uri));
        if (response.StatusCode is not (HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.SeeOther) || response.Headers.Location is not { } location)
        {
            throw new InvalidOperationException(
                $"The authorization request was refused with {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        var answer = QueryHelpers.ParseQuery(location.Query);
        if (answer.TryGetValue(Parameters.Error, out var error))
        {
            throw new InvalidOperationException($"The authorization request was refused: {error}: {answer[Parameters.ErrorDescription]}");
        }

        if (sent.TryGetValue(Parameters.State, out var state) && answer[Parameters.State] != state)
        {
            throw new InvalidOperationException($"The redirect carries state '{answer[Parameters.State]}' instead of '{state}'.");
        }

        return answer[Parameters.Code].ToString() is { Length: > 0 } code
            ? code
            : throw new InvalidOperationException($"The redirect to {location} carries no code.");
    }

    /// <summary>Posts <paramref name="parameters"/> as a form to the token endpoint and returns the raw response, for tests of refusals.</summary>
    public Task<HttpResponseMessage> SendTokenRequestAsync(IEnumerable<KeyValuePair<string, string>> parameters) =>
        _http.PostAsync(TokenEndpoint, new FormUrlEncodedContent(parameters));

    /// <summary>A fresh PKCE code verifier and its S256 challenge.</summary>
    public static (string Verifier, string Challenge) CreateProofKey()
    {
        var verifier = RandomValue();
        return (verifier, Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))));
    }

    /// <summary>
    /// Signs tokens issued from now on with a new RSA key, with a new <c>kid</c>, and returns once the key set serves it.
    /// Earlier keys stay in the key set, so tokens and codes issued before the rotation still validate.
    /// </summary>
    /// <remarks>The host keeps running: OpenIddict rebuilds its options, which read the keys, on their next use.</remarks>
    public async Task RotateSigningKeyAsync()
    {
        var key = NewSigningKey();
        ReloadServerOptions();
        var keySet = await _http.GetFromJsonAsync<JsonElement>(JwksUri);
        if (!keySet.GetProperty("keys").EnumerateArray().Any(k => k.GetProperty("kid").GetString() == key.KeyId))
        {
            throw new InvalidOperationException($"The key set does not serve the new key '{key.KeyId}': {keySet}");
        }
    }

    /// <summary>Stops the host.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }

        _http.Dispose();
        foreach (var rsa in _rsaKeys)
        {
            rsa.Dispose();
        }
    }

    private async Task StartHostAsync()
    {
        NewSigningKey();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(TestAuthorizationServer).Assembly.GetName().Name });
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders().AddProvider(Logs).SetMinimumLevel(LogLevel.Warning).AddFilter("OpenIddict", LogLevel.Information);

        builder.Services.AddOpenIddict().AddServer(server =>
        {
            server.SetAuthorizationEndpointUris("connect/authorize")
                .SetTokenEndpointUris("connect/token")
                .SetConfigurationEndpointUris(MetadataPaths())
                .SetJsonWebKeySetEndpointUris(".well-known/jwks");
            server.AllowClientCredentialsFlow().AllowAuthorizationCodeFlow().RequireProofKeyForCodeExchange();

            // OAuth 2.1 leaves "plain" PKCE to clients that cannot hash: none of ours.
            server.Configure(options =>
            {
                options.CodeChallengeMethods.Clear();
                options.CodeChallengeMethods.Add(CodeChallengeMethods.Sha256);
            });
            server.EnableDegradedMode().DisableScopeValidation().DisableResourceValidation();
            server.DisableAccessTokenEncryption().SetAccessTokenLifetime(Options.AccessTokenLifetime);

            // Authorization codes are encrypted with this key for the server's whole life, across signing key rotations.
            server.AddEphemeralEncryptionKey();

            server.AddEventHandler<OpenIddictServerEvents.ValidateAuthorizationRequestContext>(handler => handler.UseInlineHandler(context =>
            {
                ValidateAuthorizationRequest(context);
                return default;
            }));
            server.AddEventHandler<OpenIddictServerEvents.HandleAuthorizationRequestContext>(handler => handler.UseInlineHandler(context =>
            {
                HandleAuthorizationRequest(context);
                return default;
            }));
            server.AddEventHandler<OpenIddictServerEvents.ValidateTokenRequestContext>(handler => handler.UseInlineHandler(context =>
            {
                ValidateTokenRequest(context);
                return default;
            }));
            server.AddEventHandler<OpenIddictServerEvents.HandleTokenRequestContext>(handler => handler.UseInlineHandler(context =>
            {
                HandleTokenRequest(context);
                return default;
            }));

            // A loopback test server on plain HTTP: production servers must keep the HTTPS requirement.
            server.UseAspNetCore().DisableTransportSecurityRequirement();
        });

        // Read again whenever the options are rebuilt (after start and after each rotation): the issuer and the keys.
        builder.Services.Configure<OpenIddictServerOptions>(options =>
        {
            options.Issuer = _issuer;
            lock (_keysLock)
            {
                options.SigningCredentials.AddRange(_signingKeys.Select(key => new SigningCredentials(key, SecurityAlgorithms.RsaSha256)));
            }
        });

        _app = builder.Build();
        _app.UseAuthentication();
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        _issuer = new Uri(new Uri(address), "/");
        ReloadServerOptions();
    }

    private string[] MetadataPaths() =>
    [
        .. Options.MetadataDocuments.HasFlag(TestMetadataDocuments.OpenIdConnect) ? [".well-known/openid-configuration"] : Array.Empty<string>(),
        .. Options.MetadataDocuments.HasFlag(TestMetadataDocuments.OAuthAuthorizationServer) ? [".well-known/oauth-authorization-server"] : Array.Empty<string>(),
    ];

    /// <summary>Drops OpenIddict's cached options, so that their next use rebuilds them with the current issuer and keys.</summary>
    private void ReloadServerOptions() =>
        _app!.Services.GetRequiredService<IOptionsMonitorCache<OpenIddictServerOptions>>().TryRemove(Microsoft.Extensions.Options.Options.DefaultName);

    private RsaSecurityKey NewSigningKey()
    {
        var rsa = RSA.Create(2048);
        var key = new RsaSecurityKey(rsa) { KeyId = RandomValue() };
        lock (_keysLock)
        {
            _rsaKeys.Add(rsa);
            _signingKeys = _signingKeys.Insert(0, key);
        }

        return key;
    }

    private void ValidateAuthorizationRequest(OpenIddictServerEvents.ValidateAuthorizationRequestContext context)
    {
        if (context.ClientId is null || !_clients.TryGetValue(context.ClientId, out var client))
        {
            context.Reject(Errors.InvalidClient, $"Unknown client_id '{context.ClientId}'.");
        }
        else if (client.RedirectUri is null || !RedirectUriMatches(client.RedirectUri, context.RedirectUri))
        {
            context.Reject(Errors.InvalidRequest, $"The redirect_uri '{context.RedirectUri}' is not registered for client '{client.Id}'.");
        }
        else if (context.Request[ClaimsParameter] is { } claims && !TryParseClaims((string?)claims, out _))
        {
            context.Reject(Errors.InvalidRequest, $"The {ClaimsParameter} parameter must be a JSON object of strings.");
        }
    }

    private static void HandleAuthorizationRequest(OpenIddictServerEvents.HandleAuthorizationRequestContext context)
    {
        var request = context.Request;
        var identity = new ClaimsIdentity(nameof(TestAuthorizationServer), Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, request.LoginHint ?? DefaultSubject);
        if (TryParseClaims((string?)request[ClaimsParameter], out var claims))
        {
            foreach (var (type, value) in claims)
            {
                identity.AddClaim(new Claim(type, value));
            }
        }

        identity.SetScopes(request.GetScopes()).SetResources(request.GetResources());
        identity.SetDestinations(static _ => [Destinations.AccessToken]);
        context.SignIn(new ClaimsPrincipal(identity));
    }

    private void ValidateTokenRequest(OpenIddictServerEvents.ValidateTokenRequestContext context)
    {
        // RFC 6749, section 2.3.1: a secret that is an empty string may be omitted, so sending one is sending none (the
        // MCP SDK does, as HTTP Basic, for a registered public client when the metadata lists client_secret_basic first).
        var secret = string.IsNullOrEmpty(context.Request.ClientSecret) ? null : context.Request.ClientSecret;
        if (context.ClientId is null || !_clients.TryGetValue(context.ClientId, out var client))
        {
            context.Reject(Errors.InvalidClient, $"Unknown client_id '{context.ClientId}'.");
        }
        else if (client.Secret is null && secret is not null)
        {
            context.Reject(Errors.InvalidClient, $"Client '{client.Id}' is public: it has no secret to send.");
        }
        else if (client.Secret is not null && (secret is null || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(client.Secret))))
        {
            context.Reject(Errors.InvalidClient, $"Wrong or missing client_secret for client '{client.Id}'.");
        }
        else if (context.Request.IsAuthorizationCodeGrantType() && client.RedirectUri is null)
        {
            context.Reject(Errors.UnauthorizedClient, $"Client '{client.Id}' has no redirect URI, so no authorization codes.");
        }
    }

    private static void HandleTokenRequest(OpenIddictServerEvents.HandleTokenRequestContext context)
    {
        var request = context.Request;
        if (request.IsClientCredentialsGrantType())
        {
            var identity = new ClaimsIdentity(nameof(TestAuthorizationServer), Claims.Name, Claims.Role);
            identity.SetClaim(Claims.Subject, request.ClientId);
            identity.SetScopes(request.GetScopes()).SetResources(request.GetResources());
            identity.SetDestinations(static _ => [Destinations.AccessToken]);
            context.SignIn(new ClaimsPrincipal(identity));
        }
        else if (request.IsAuthorizationCodeGrantType() && context.AuthorizationCodePrincipal is { } principal)
        {
            // RFC 8707: the token request may narrow the resources granted at authorization, never widen them.
            var requested = request.GetResources();
            if (!requested.IsEmpty)
            {
                var granted = principal.GetResources();
                if (requested.Except(granted, StringComparer.Ordinal).FirstOrDefault() is { } other)
                {
                    context.Reject(Errors.InvalidTarget, $"The resource '{other}' was not granted by the authorization request.");
                    return;
                }

                principal.SetResources(requested);
            }

            context.SignIn(principal);
        }
    }

    private static bool RedirectUriMatches(Uri registered, string? requested)
    {
        if (!Uri.TryCreate(requested, UriKind.Absolute, out var uri))
        {
            return false;
        }

        // RFC 8252, section 7.3: native apps listen on an ephemeral loopback port, so the port may differ.
        return registered.IsLoopback && registered.Scheme == Uri.UriSchemeHttp && uri.Scheme == Uri.UriSchemeHttp
            ? uri.Host == registered.Host && uri.PathAndQuery == registered.PathAndQuery
            : uri == registered;
    }

    private static bool TryParseClaims(string? json, out Dictionary<string, string> claims)
    {
        claims = [];
        if (string.IsNullOrEmpty(json))
        {
            return true;
        }

        try
        {
            claims = JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? [];
            return claims.Keys.All(type => !ReservedClaims.Contains(type));
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string RandomValue() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    private async Task<string> TokenAsync(IEnumerable<KeyValuePair<string, string>> parameters)
    {
        using var response = await SendTokenRequestAsync(parameters);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return response.IsSuccessStatusCode && body.TryGetProperty(Parameters.AccessToken, out var token)
            ? token.GetString()!
            : throw new InvalidOperationException($"The token request was refused with {(int)response.StatusCode}: {body}");
    }
}
