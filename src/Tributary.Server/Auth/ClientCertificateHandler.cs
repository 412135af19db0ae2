using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tributary.Core.Configuration;

namespace Tributary.Server.Auth;

/// <summary>
/// Authenticates the client certificate of the connection (already checked against the CA bundle or thumbprints by the
/// TLS handshake, see <see cref="ClientCertificates"/>): the principal is <c>cert:&lt;subject&gt;</c> with the scopes
/// <c>auth.mtls.clients</c> gives that subject.
/// </summary>
public sealed class ClientCertificateHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, MtlsConfig mtls)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>The scheme's name.</summary>
    public const string SchemeName = "ClientCertificate";

    /// <inheritdoc />
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (Context.Connection.ClientCertificate is not { } certificate)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        // The handshake admitted only trusted certificates; a listed subject gets its scopes, any other none.
        var subject = certificate.Subject;
        var scopes = mtls.Clients.TryGetValue(subject, out var granted) ? granted : [];
        var name = $"cert:{subject}";
        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.NameIdentifier, name), new Claim(ClaimTypes.Name, name), .. scopes.Select(s => new Claim(AccessPolicy.ScopeClaim, s))],
            SchemeName,
            ClaimTypes.Name,
            ClaimTypes.Role);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }
}
