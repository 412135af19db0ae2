using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Tributary.Client;

/// <summary>
/// OAuth 2.1 client credentials: the client gets its own access token from the authorization server (the token endpoint
/// given; else found from the issuer's metadata, RFC 8414 then OpenID Connect; else from the server's protected resource
/// metadata, RFC 9728), for <see cref="Resource"/> (RFC 8707), keeps it until shortly before it expires, and gets a new
/// one when the server refuses it. It authenticates with its secret (HTTP Basic, or in the form when the authorization
/// server only takes that) or with a JWT signed by its private key (<c>private_key_jwt</c>, RFC 7523).
/// </summary>
public sealed record OAuthClientCredentials
{
    /// <summary>The authorization server's issuer, for discovery of its token endpoint; by default the first the server's protected resource metadata names.</summary>
    public Uri? Issuer { get; init; }

    /// <summary>The token endpoint, instead of discovery.</summary>
    public Uri? TokenEndpoint { get; init; }

    /// <summary>The client's id.</summary>
    public required string ClientId { get; init; }

    /// <summary>The client's secret; or set <see cref="PrivateKeyPem"/>.</summary>
    public string? ClientSecret { get; init; }

    /// <summary>The client's private key (PEM: an EC P-256 key signs ES256, an RSA key RS256) for <c>private_key_jwt</c>, instead of a secret.</summary>
    public string? PrivateKeyPem { get; init; }

    /// <summary>The scopes to ask for; none by default.</summary>
    public IReadOnlyList<string> Scopes { get; init; } = [];

    /// <summary>The resource (the server's canonical URI, such as https://mcp.example.com/mcp); default the endpoint connected to.</summary>
    public string? Resource { get; init; }

    internal void Validate()
    {
        if ((ClientSecret is null) == (PrivateKeyPem is null))
        {
            throw new ArgumentException("OAuth client credentials need a ClientSecret or a PrivateKeyPem (private_key_jwt), one of them");
        }
    }
}

/// <summary>Gets and keeps the access token of <see cref="OAuthClientCredentials"/>.</summary>
internal sealed class TokenSource(OAuthClientCredentials credentials, Uri endpoint, HttpClient http) : IDisposable
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly string _resource = credentials.Resource ?? endpoint.ToString();
    private (Uri Endpoint, string Issuer, IReadOnlyList<string> AuthMethods)? _server;
    private (string Token, DateTimeOffset Expires)? _current;

    /// <summary>The current token, or a new one when there is none, it is about to expire, or <paramref name="renew"/> is set.</summary>
    public async Task<string> GetAsync(bool renew, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken);
        try
        {
            if (!renew && _current is { } current && current.Expires > DateTimeOffset.UtcNow.AddSeconds(30))
            {
                return current.Token;
            }

            var server = _server ??= await DiscoverAsync(cancellationToken);
            var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["resource"] = _resource };
            if (credentials.Scopes.Count > 0)
            {
                form["scope"] = string.Join(' ', credentials.Scopes);
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, server.Endpoint);
            if (credentials.PrivateKeyPem is { } key)
            {
                form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
                form["client_assertion"] = ClientAssertion(key, server.Issuer);
            }
            else if (server.AuthMethods.Contains("client_secret_basic") || !server.AuthMethods.Contains("client_secret_post"))
            {
                // RFC 6749, section 2.3.1: Basic is what every authorization server must take; both parts form-encoded first.
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(credentials.ClientId)}:{Uri.EscapeDataString(credentials.ClientSecret!)}")));
            }
            else
            {
                form["client_id"] = credentials.ClientId;
                form["client_secret"] = credentials.ClientSecret!;
            }

            request.Content = new FormUrlEncodedContent(form);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using var response = await http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                // The body names the OAuth error (invalid_client, invalid_scope ...); it holds no secret of ours.
                throw new HttpRequestException($"the authorization server refused the client credentials: {(int)response.StatusCode} {Error(body)}", null, HttpStatusCode.Unauthorized);
            }

            using var json = JsonDocument.Parse(body);
            var token = json.RootElement.GetProperty("access_token").GetString() ?? throw new HttpRequestException("the token response has no access_token");
            var lifetime = json.RootElement.TryGetProperty("expires_in", out var expires) && expires.TryGetInt32(out var seconds) ? seconds : 300;
            _current = (token, DateTimeOffset.UtcNow.AddSeconds(lifetime));
            return token;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _lock.Dispose();

    /// <summary>The token endpoint, the issuer (a client assertion's audience) and the authentication methods the authorization server takes.</summary>
    private async Task<(Uri Endpoint, string Issuer, IReadOnlyList<string> AuthMethods)> DiscoverAsync(CancellationToken cancellationToken)
    {
        if (credentials.TokenEndpoint is { } given)
        {
            return (given, credentials.Issuer?.ToString() ?? given.ToString(), []);
        }

        var issuer = credentials.Issuer ?? await AuthorizationServerOfResourceAsync(cancellationToken);
        // RFC 8414 inserts the well-known path before the issuer's path; OpenID Connect appends it (and is tried inserted too).
        var origin = issuer.GetLeftPart(UriPartial.Authority);
        var path = issuer.AbsolutePath.TrimEnd('/');
        foreach (var address in new[] { $"{origin}/.well-known/oauth-authorization-server{path}", $"{origin}/.well-known/openid-configuration{path}", $"{origin}{path}/.well-known/openid-configuration" }.Distinct())
        {
            using var metadata = await GetJsonAsync(new Uri(address), cancellationToken);
            if (metadata is null)
            {
                continue;
            }

            var root = metadata.RootElement;
            var text = root.TryGetProperty("token_endpoint", out var value) ? value.GetString() : null;
            // Only an https URL (http on loopback) is ever called: never javascript:, file: or anything a shell would run.
            var endpoint = Uri.TryCreate(text, UriKind.Absolute, out var uri) && AuthorizationCodeFlow.IsSafePage(uri)
                ? uri
                : throw new HttpRequestException($"the issuer's metadata names a token endpoint that is not an https URL: '{text}'");
            var methods = root.TryGetProperty("token_endpoint_auth_methods_supported", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().Select(m => m.GetString() ?? "").ToArray()
                : [];
            return (endpoint, root.TryGetProperty("issuer", out var named) ? named.GetString() ?? issuer.ToString() : issuer.ToString(), methods);
        }

        throw new HttpRequestException($"no authorization server metadata at {issuer} (RFC 8414 or OpenID Connect discovery)");
    }

    /// <summary>The first authorization server the protected resource metadata of the endpoint names (RFC 9728: at the path, then at the root).</summary>
    private async Task<Uri> AuthorizationServerOfResourceAsync(CancellationToken cancellationToken)
    {
        // A WebSocket endpoint's metadata is served over HTTP(S) by the same server.
        var origin = new UriBuilder(endpoint) { Scheme = endpoint.Scheme switch { "wss" => "https", "ws" => "http", var scheme => scheme }, Port = endpoint.Port }.Uri.GetLeftPart(UriPartial.Authority);
        foreach (var address in new[] { $"{origin}/.well-known/oauth-protected-resource{endpoint.AbsolutePath.TrimEnd('/')}", $"{origin}/.well-known/oauth-protected-resource" }.Distinct())
        {
            using var metadata = await GetJsonAsync(new Uri(address), cancellationToken);
            if (metadata?.RootElement.TryGetProperty("authorization_servers", out var servers) == true && servers.ValueKind == JsonValueKind.Array &&
                servers.EnumerateArray().FirstOrDefault().GetString() is { } first && Uri.TryCreate(first, UriKind.Absolute, out var issuer) && AuthorizationCodeFlow.IsSafePage(issuer))
            {
                return issuer;
            }
        }

        throw new HttpRequestException($"OAuth client credentials need an Issuer or a TokenEndpoint: {endpoint} names no https authorization server in its protected resource metadata (RFC 9728)");
    }

    private async Task<JsonDocument?> GetJsonAsync(Uri address, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(address, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            return null;
        }

        try
        {
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>A JWT that proves the client holds its key (RFC 7523, section 3): for the issuer, valid for five minutes, used once.</summary>
    private string ClientAssertion(string privateKeyPem, string audience)
    {
        using var ecdsa = ECDsa.Create();
        using var rsa = RSA.Create();
        Func<byte[], byte[]> sign;
        string algorithm;
        try
        {
            ecdsa.ImportFromPem(privateKeyPem);
            (algorithm, sign) = ("ES256", data => ecdsa.SignData(data, HashAlgorithmName.SHA256));
        }
        catch (ArgumentException)
        {
            try
            {
                rsa.ImportFromPem(privateKeyPem);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException("OAuth PrivateKeyPem holds no EC P-256 or RSA private key in PEM", e);
            }

            (algorithm, sign) = ("RS256", data => rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        }

        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = Encoding.UTF8.GetBytes($$"""{"alg":"{{algorithm}}","typ":"JWT"}""");
        var claims = Encoding.UTF8.GetBytes($$"""{"iss":{{Quote(credentials.ClientId)}},"sub":{{Quote(credentials.ClientId)}},"aud":{{Quote(audience)}},"jti":"{{Guid.NewGuid():N}}","iat":{{now}},"exp":{{now + 300}}}""");
        var signed = $"{Base64Url.EncodeToString(header)}.{Base64Url.EncodeToString(claims)}";
        return $"{signed}.{Base64Url.EncodeToString(sign(Encoding.ASCII.GetBytes(signed)))}";
    }

    private static string Quote(string text) => TributaryClient.Json(w => w.WriteStringValue(text)).GetRawText();

    private static string Error(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.TryGetProperty("error", out var error) ? $"{error.GetString()}{(json.RootElement.TryGetProperty("error_description", out var description) ? $": {description.GetString()}" : "")}" : "";
        }
        catch (JsonException)
        {
            return "";
        }
    }
}
