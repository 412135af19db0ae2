using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tributary.Core.Configuration;

namespace Tributary.Server.Auth;

/// <summary>
/// Finds the principal of a request from the credentials it carries, by the scheme they belong to: an API key
/// (<c>trib_...</c> as bearer or in <c>X-API-Key</c>), a JWT bearer token (validated by ASP.NET Core's JwtBearer, then
/// taken from the <see cref="TokenCache"/> until it expires), or the connection's client certificate (already trusted by
/// the TLS handshake). The principals of keys and certificates are made once and reused.
/// </summary>
public sealed class Authenticator(AuthConfig auth, TokenCache tokens, IServiceProvider services)
{
    /// <summary>The header that may carry a key instead of <c>Authorization</c>.</summary>
    public const string ApiKeyHeader = "X-API-Key";

    private readonly ApiKeyStore? _keys = auth.ApiKeys ? services.GetRequiredService<ApiKeyStore>() : null;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ClaimsPrincipal> _certificates = new(StringComparer.Ordinal);

    /// <summary>The request's principal, or why its credentials were refused; both null when it carries none.</summary>
    public async ValueTask<(ClaimsPrincipal? Principal, string? Problem)> AuthenticateAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var headers = context.Request.Headers;
        var authorization = headers.Authorization.ToString();
        var bearer = authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization.AsMemory(7).Trim() : (ReadOnlyMemory<char>?)null;
        var key = headers[ApiKeyHeader].ToString() is { Length: > 0 } header ? header.AsMemory().Trim()
            : bearer is { } presented && presented.Span.StartsWith(ApiKeyStore.Prefix, StringComparison.Ordinal) ? presented
            : (ReadOnlyMemory<char>?)null;
        if (key is not null)
        {
            if (_keys is null)
            {
                return (null, "API keys are not accepted here (auth.api_keys is off)");
            }

            var check = _keys.Verify(key.Value.Span);
            return check.Key is { } valid ? (valid.Principal ??= Principal($"key:{valid.Name}", "ApiKey", valid.Scopes), null) : (null, check.Problem);
        }

        if (bearer is not null)
        {
            if (auth.OAuth is null)
            {
                return (null, "bearer tokens are not accepted here (auth.oauth is off): send an API key");
            }

            if (tokens.TryGet(bearer.Value.Span) is { } cached)
            {
                return (cached, null);
            }

            var result = await context.AuthenticateAsync(JwtBearerDefaults.AuthenticationScheme);
            return result.Succeeded ? (result.Principal, null) : (null, result.Failure?.Message ?? "the bearer token was not accepted");
        }

        if (context.Connection.ClientCertificate is { } certificate && auth.Mtls is not null)
        {
            // The handshake admitted only trusted certificates; a listed subject gets its scopes, any other none.
            return (_certificates.GetOrAdd(certificate.Subject, subject => Principal($"cert:{subject}", "ClientCertificate", auth.Mtls.Clients.GetValueOrDefault(subject) ?? [])), null);
        }

        return (null, null);
    }

    private static ClaimsPrincipal Principal(string name, string scheme, IEnumerable<string> scopes) => new(new ClaimsIdentity(
        [new Claim(ClaimTypes.NameIdentifier, name), new Claim(ClaimTypes.Name, name), .. scopes.Select(s => new Claim(AccessPolicy.ScopeClaim, s))],
        scheme,
        ClaimTypes.Name,
        ClaimTypes.Role));
}
