using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Tributary.Server.Auth;

/// <summary>
/// Authenticates <c>Authorization: Bearer trib_...</c> or <c>X-API-Key: trib_...</c> against the <see cref="ApiKeyStore"/>.
/// The principal is <c>key:&lt;name&gt;</c> with the key's scopes.
/// </summary>
public sealed class ApiKeyHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyStore keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>The scheme's name.</summary>
    public const string SchemeName = "ApiKey";

    /// <summary>The header that may carry a key instead of <c>Authorization</c>.</summary>
    public const string HeaderName = "X-API-Key";

    /// <inheritdoc />
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = Presented(Request.Headers.Authorization.ToString(), Request.Headers[HeaderName].ToString());
        if (presented is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var check = keys.Verify(presented);
        if (check.Key is not { } key)
        {
            return Task.FromResult(AuthenticateResult.Fail(check.Problem!));
        }

        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(key.Principal ??= Principal(key), SchemeName)));
    }

    /// <summary>The principal of a key: <c>key:&lt;name&gt;</c> with its scopes (made once per cached key).</summary>
    private static ClaimsPrincipal Principal(ApiKey key)
    {
        var name = $"key:{key.Name}";
        return new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(ClaimTypes.NameIdentifier, name), new Claim(ClaimTypes.Name, name), .. key.Scopes.Select(s => new Claim(AccessPolicy.ScopeClaim, s))],
            SchemeName,
            ClaimTypes.Name,
            ClaimTypes.Role));
    }

    /// <summary>The key a request carries, from <c>X-API-Key</c> or a bearer value that starts with <c>trib_</c>; else null.</summary>
    public static string? Presented(string authorization, string apiKeyHeader) =>
        apiKeyHeader.Length > 0 ? apiKeyHeader.Trim()
        : authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization.AsSpan(7).TrimStart().StartsWith(ApiKeyStore.Prefix, StringComparison.Ordinal)
            ? authorization[7..].Trim()
            : null;
}
