using System.Globalization;
using System.Text.Json;

namespace Tributary.Sources.Http;

/// <summary>An HTTP source's OAuth 2.1 client credentials for its API: the token endpoint, the client and what to ask for.</summary>
/// <param name="TokenUrl">The authorization server's token endpoint (https, or http on loopback).</param>
/// <param name="ClientId">The source's client id.</param>
/// <param name="ClientSecret">Its secret.</param>
/// <param name="Scopes">Scopes to ask for; none by default.</param>
/// <param name="Resource">The API's resource indicator (RFC 8707), if its authorization server wants one.</param>
public sealed record UpstreamOAuth(Uri TokenUrl, string ClientId, string ClientSecret, IReadOnlyList<string> Scopes, string? Resource);

/// <summary>
/// The source's own access token by the client credentials grant: fetched when first needed, kept until 30 s before it
/// expires, renewed when the API refuses it. Never the caller's token.
/// </summary>
internal sealed class UpstreamToken(UpstreamOAuth oauth, string source) : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly SemaphoreSlim _lock = new(1, 1);
    private (string Token, DateTimeOffset Until)? _current;

    /// <summary>A token valid for a while: the current one, or a new one when it is about to expire or is <paramref name="refused"/> (the API refused it).</summary>
    public async Task<string> GetAsync(string? refused, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken);
        try
        {
            if (_current is { } current && current.Until > DateTimeOffset.UtcNow && current.Token != refused)
            {
                return current.Token;
            }

            var form = new List<KeyValuePair<string, string>> { new("grant_type", "client_credentials"), new("client_id", oauth.ClientId), new("client_secret", oauth.ClientSecret) };
            if (oauth.Scopes.Count > 0)
            {
                form.Add(new("scope", string.Join(' ', oauth.Scopes)));
            }

            if (oauth.Resource is { } resource)
            {
                form.Add(new("resource", resource));
            }

            using var response = await _http.PostAsync(oauth.TokenUrl, new FormUrlEncodedContent(form), cancellationToken);
            using var answer = JsonDocument.Parse(await response.Content.ReadAsStreamAsync(cancellationToken));
            var root = answer.RootElement;
            if (!response.IsSuccessStatusCode || !root.TryGetProperty("access_token", out var token) || token.GetString() is not { Length: > 0 } value)
            {
                var error = root.TryGetProperty("error", out var code) ? code.GetString() : ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
                throw new UpstreamException($"{source}: its authorization server refused the source's client credentials ({error})");
            }

            var lifetime = root.TryGetProperty("expires_in", out var expires) && expires.TryGetInt32(out var seconds) ? TimeSpan.FromSeconds(seconds) : TimeSpan.FromMinutes(5);
            _current = (value, DateTimeOffset.UtcNow + lifetime - TimeSpan.FromSeconds(30));
            return value;
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new UpstreamException($"{source}: its authorization server could not be reached for a token", transient: true, e);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _http.Dispose();
        _lock.Dispose();
    }
}
