using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Tributary.Client;

/// <summary>
/// OAuth 2.1 client credentials: the client gets its own access token from the authorization server (the token endpoint
/// given, or found by discovery from the issuer: RFC 8414, then OpenID Connect), for <see cref="Resource"/> (RFC 8707),
/// keeps it until shortly before it expires, and gets a new one when the server refuses it.
/// </summary>
public sealed record OAuthClientCredentials
{
    /// <summary>The authorization server's issuer, for discovery of its token endpoint.</summary>
    public Uri? Issuer { get; init; }

    /// <summary>The token endpoint, instead of discovery.</summary>
    public Uri? TokenEndpoint { get; init; }

    /// <summary>The client's id.</summary>
    public required string ClientId { get; init; }

    /// <summary>The client's secret.</summary>
    public required string ClientSecret { get; init; }

    /// <summary>The scopes to ask for.</summary>
    public IReadOnlyList<string> Scopes { get; init; } = [];

    /// <summary>The resource (the server's canonical URI, such as https://mcp.example.com/mcp); default the endpoint connected to.</summary>
    public string? Resource { get; init; }
}

/// <summary>Gets and keeps the access token of <see cref="OAuthClientCredentials"/>.</summary>
internal sealed class TokenSource(OAuthClientCredentials credentials, string resource, HttpClient http) : IDisposable
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private Uri? _tokenEndpoint = credentials.TokenEndpoint;
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

            var endpoint = _tokenEndpoint ??= await DiscoverAsync(cancellationToken);
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["grant_type"] = "client_credentials",
                    ["client_id"] = credentials.ClientId,
                    ["client_secret"] = credentials.ClientSecret,
                    ["scope"] = string.Join(' ', credentials.Scopes),
                    ["resource"] = resource,
                }),
            };
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

    private async Task<Uri> DiscoverAsync(CancellationToken cancellationToken)
    {
        var issuer = credentials.Issuer ?? throw new ArgumentException("OAuth client credentials need a TokenEndpoint or an Issuer");
        foreach (var document in new[] { ".well-known/oauth-authorization-server", ".well-known/openid-configuration" })
        {
            using var response = await http.GetAsync(new Uri(new Uri(issuer.ToString().TrimEnd('/') + "/"), document), cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                continue;
            }

            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            var text = json.RootElement.TryGetProperty("token_endpoint", out var value) ? value.GetString() : null;
            // Only an https URL (http on loopback) is ever called: never javascript:, file: or anything a shell would run.
            return Uri.TryCreate(text, UriKind.Absolute, out var endpoint) && (endpoint.Scheme == "https" || (endpoint.Scheme == "http" && endpoint.IsLoopback))
                ? endpoint
                : throw new HttpRequestException($"the issuer's metadata names a token endpoint that is not an https URL: '{text}'");
        }

        throw new HttpRequestException($"no authorization server metadata at {issuer} (RFC 8414 or OpenID Connect discovery)");
    }

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
