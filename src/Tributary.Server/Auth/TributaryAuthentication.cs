using System.Collections.Concurrent;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using ModelContextProtocol.AspNetCore.Authentication;
using ModelContextProtocol.Authentication;
using Tributary.Core.Configuration;
using Tributary.Core.Security;
using Tributary.Server.State;

namespace Tributary.Server.Auth;

/// <summary>
/// Registers what authentication needs: the <see cref="Authenticator"/> and its key store and token cache, rate limits,
/// and with OAuth, ASP.NET Core's JwtBearer (token validation with discovery, JWKS and rotation) and the SDK's protected
/// resource metadata (RFC 9728).
/// </summary>
public static class TributaryAuthentication
{
    /// <summary>The path of the protected resource metadata (the <c>/mcp</c> path form is served as well).</summary>
    public const string MetadataPath = "/.well-known/oauth-protected-resource";

    /// <summary>Adds authentication as <paramref name="config"/> asks; nothing when no scheme is configured.</summary>
    public static IServiceCollection AddTributaryAuthentication(this IServiceCollection services, TributaryConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var auth = config.Auth;
        if (!auth.Enabled)
        {
            return services;
        }

        services.AddSingleton(new RateLimits(auth.RateLimit));
        services.AddSingleton(auth);
        services.AddSingleton<TokenCache>();
        services.AddSingleton<Authenticator>();
        if (auth.ApiKeys)
        {
            services.AddSingleton(_ => new ApiKeyStore(StateStore.PathIn(config)));
        }

        if (auth.OAuth is { } oauth)
        {
            // JwtBearer validates tokens (the gate asks it by name); the SDK's handler serves the RFC 9728 metadata.
            var resource = ResourceUri(config);
            services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).Configure<TokenCache>((o, tokens) => ConfigureJwt(o, oauth, oauth.Audience ?? resource, tokens));
            services.AddAuthentication()
                .AddJwtBearer()
                .AddMcp(o => o.ResourceMetadata = new ProtectedResourceMetadata
                {
                    Resource = resource,
                    AuthorizationServers = [oauth.Issuer.ToString()],
                    BearerMethodsSupported = ["header"],
                    ResourceName = "Tributary",
                    ScopesSupported = ScopesOf(config),
                });
        }

        return services;
    }

    /// <summary>
    /// The reading scopes of this configuration, for the resource metadata: what a client that was told no scope asks for.
    /// Writes, publishing and named tools are not among them: the 403 for a call that needs one names it (step-up).
    /// </summary>
    private static List<string> ScopesOf(TributaryConfig config) =>
        [.. config.Sources.Select(s => Grants.Source(s.Name, "read")), .. config.Topics.Select(t => Grants.Topic(t.Name, "read"))];

    /// <summary>This server's canonical resource URI: <c>server.public_url</c> + <c>/mcp</c>.</summary>
    public static string ResourceUri(TributaryConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.Server.PublicUrl is { } url ? url.GetLeftPart(UriPartial.Authority) + url.AbsolutePath.TrimEnd('/') + Http.TributaryHttpExtensions.McpPath : "";
    }

    private static void ConfigureJwt(JwtBearerOptions options, OAuthConfig oauth, string audience, TokenCache tokens)
    {
        var issuer = oauth.Issuer.ToString();
        options.MapInboundClaims = false;
        options.RequireHttpsMetadata = oauth.Issuer.Scheme == "https";
        options.SaveToken = false;
        options.IncludeErrorDetails = true;
        options.RefreshInterval = TimeSpan.FromSeconds(5);
        options.TokenValidationParameters = new TokenValidationParameters
        {
            ValidIssuers = [issuer, issuer.TrimEnd('/')],
            ValidAudience = audience,
            ValidAlgorithms = oauth.Algorithms,
            ClockSkew = oauth.ClockSkew,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ValidateIssuerSigningKey = true,
            NameClaimType = "sub",
        };
        if (oauth.JwksFile is { } file)
        {
            // Static keys: no discovery.
            options.Configuration = new OpenIdConnectConfiguration { Issuer = issuer };
            options.TokenValidationParameters.IssuerSigningKeys = new JsonWebKeySet(File.ReadAllText(file)).GetSigningKeys();
        }
        else
        {
            options.ConfigurationManager = new ConfigurationManager<OpenIdConnectConfiguration>(
                issuer, new DiscoveryRetriever(), new HttpDocumentRetriever { RequireHttps = options.RequireHttpsMetadata })
            {
                RefreshInterval = options.RefreshInterval,
            };
        }

        options.Events = new JwtBearerEvents
        {
            // A validated token is kept until it expires: the Authenticator takes it from the cache (signature checks are the costly part).
            OnTokenValidated = context =>
            {
                if (context.SecurityToken is JsonWebToken jwt && context.Principal is { } principal)
                {
                    tokens.Add(jwt.EncodedToken, principal, jwt.ValidTo);
                }

                return Task.CompletedTask;
            },
        };
    }

    /// <summary>Issuer metadata: OpenID Connect discovery, else RFC 8414 authorization server metadata.</summary>
    internal sealed class DiscoveryRetriever : IConfigurationRetriever<OpenIdConnectConfiguration>
    {
        public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(string address, IDocumentRetriever retriever, CancellationToken cancel)
        {
            var addresses = MetadataAddresses(new Uri(address));
            for (var i = 0; ; i++)
            {
                try
                {
                    return await OpenIdConnectConfigurationRetriever.GetAsync(addresses[i], retriever, cancel);
                }
                catch (IOException) when (i < addresses.Count - 1)
                {
                    // Not there: the next place the issuer may publish it.
                }
            }
        }

        /// <summary>
        /// Where an issuer publishes its metadata, in the order tried: OpenID Connect discovery (the path appended), RFC 8414
        /// (the well-known path inserted before the issuer's path), and for an issuer with a path, OpenID Connect inserted too.
        /// </summary>
        internal static IReadOnlyList<string> MetadataAddresses(Uri issuer)
        {
            var root = issuer.GetLeftPart(UriPartial.Authority);
            var path = issuer.AbsolutePath.TrimEnd('/');
            return path.Length == 0
                ? [root + "/.well-known/openid-configuration", root + "/.well-known/oauth-authorization-server"]
                : [root + path + "/.well-known/openid-configuration", root + "/.well-known/oauth-authorization-server" + path, root + "/.well-known/openid-configuration" + path];
        }
    }
}

/// <summary>Validated tokens until they expire; at most 10,000 (then the expired ones go, or all).</summary>
public sealed class TokenCache
{
    private const int Capacity = 10_000;
    private readonly ConcurrentDictionary<string, (System.Security.Claims.ClaimsPrincipal Principal, DateTime Expires)> _tokens;
    private readonly ConcurrentDictionary<string, (System.Security.Claims.ClaimsPrincipal Principal, DateTime Expires)>.AlternateLookup<ReadOnlySpan<char>> _bySpan;

    /// <summary>An empty cache.</summary>
    public TokenCache()
    {
        _tokens = new(StringComparer.Ordinal);
        _bySpan = _tokens.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The principal of a token validated before, while it has not expired (looked up without copying it out of the header).</summary>
    public System.Security.Claims.ClaimsPrincipal? TryGet(ReadOnlySpan<char> token) =>
        _bySpan.TryGetValue(token, out var entry) && entry.Expires > DateTime.UtcNow ? entry.Principal : null;

    /// <summary>Remembers a validated token until <paramref name="expires"/>.</summary>
    public void Add(string token, System.Security.Claims.ClaimsPrincipal principal, DateTime expires)
    {
        if (_tokens.Count >= Capacity)
        {
            foreach (var (key, value) in _tokens)
            {
                if (value.Expires <= DateTime.UtcNow)
                {
                    _tokens.TryRemove(key, out _);
                }
            }

            if (_tokens.Count >= Capacity)
            {
                _tokens.Clear();
            }
        }

        _tokens[token] = (principal, expires);
    }
}
