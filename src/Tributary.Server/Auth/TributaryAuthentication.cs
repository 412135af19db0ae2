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
using Tributary.Server.State;

namespace Tributary.Server.Auth;

/// <summary>
/// Registers the configured authentication schemes behind one policy scheme that picks, per request, the scheme its
/// credentials belong to: an API key (<c>trib_...</c> as bearer or <c>X-API-Key</c>), a JWT bearer token, or a client
/// certificate. Also the SDK's protected resource metadata (RFC 9728) when OAuth is configured.
/// </summary>
public static class TributaryAuthentication
{
    /// <summary>The policy scheme every request is authenticated with.</summary>
    public const string Scheme = "Tributary";

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
        var builder = services
            .AddAuthentication(o =>
            {
                o.DefaultScheme = Scheme;
                o.DefaultChallengeScheme = Scheme;
            })
            .AddPolicyScheme(Scheme, "Tributary", o => o.ForwardDefaultSelector = context => Select(context, auth));
        if (auth.ApiKeys)
        {
            services.AddSingleton(_ => new ApiKeyStore(StateStore.PathIn(config)));
            builder.AddScheme<AuthenticationSchemeOptions, ApiKeyHandler>(ApiKeyHandler.SchemeName, null);
        }

        if (auth.Mtls is { } mtls)
        {
            services.AddSingleton(mtls);
            builder.AddScheme<AuthenticationSchemeOptions, ClientCertificateHandler>(ClientCertificateHandler.SchemeName, null);
        }

        if (auth.OAuth is { } oauth)
        {
            var resource = ResourceUri(config);
            var tokens = new TokenCache();
            builder.AddJwtBearer(o => ConfigureJwt(o, oauth, oauth.Audience ?? resource, tokens));
            builder.AddMcp(o => o.ResourceMetadata = new ProtectedResourceMetadata
            {
                Resource = resource,
                AuthorizationServers = [oauth.Issuer.ToString()],
                BearerMethodsSupported = ["header"],
                ResourceName = "Tributary",
            });
        }

        return services;
    }

    /// <summary>This server's canonical resource URI: <c>server.public_url</c> + <c>/mcp</c>.</summary>
    public static string ResourceUri(TributaryConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.Server.PublicUrl is { } url ? url.GetLeftPart(UriPartial.Authority) + url.AbsolutePath.TrimEnd('/') + Http.TributaryHttpExtensions.McpPath : "";
    }

    /// <summary>The scheme whose credentials the request carries (the first configured one when it carries none).</summary>
    private static string Select(HttpContext context, AuthConfig auth)
    {
        var headers = context.Request.Headers;
        var authorization = headers.Authorization.ToString();
        if (auth.ApiKeys && ApiKeyHandler.Presented(authorization, headers[ApiKeyHandler.HeaderName].ToString()) is not null)
        {
            return ApiKeyHandler.SchemeName;
        }

        if (auth.OAuth is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return JwtBearerDefaults.AuthenticationScheme;
        }

        if (auth.Mtls is not null && context.Connection.ClientCertificate is not null)
        {
            return ClientCertificateHandler.SchemeName;
        }

        return auth.OAuth is not null ? JwtBearerDefaults.AuthenticationScheme : auth.ApiKeys ? ApiKeyHandler.SchemeName : ClientCertificateHandler.SchemeName;
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
            // A token validated before is taken from the cache until it expires (signature checks are the costly part).
            OnMessageReceived = context =>
            {
                if (Bearer(context.Request.Headers.Authorization.ToString()) is { } token && tokens.TryGet(token) is { } principal)
                {
                    context.Principal = principal;
                    context.Success();
                }

                return Task.CompletedTask;
            },
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

    private static string? Bearer(string authorization) =>
        authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization[7..].Trim() : null;

    /// <summary>Issuer metadata: OpenID Connect discovery, else RFC 8414 authorization server metadata.</summary>
    private sealed class DiscoveryRetriever : IConfigurationRetriever<OpenIdConnectConfiguration>
    {
        public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(string address, IDocumentRetriever retriever, CancellationToken cancel)
        {
            var issuer = address.TrimEnd('/');
            try
            {
                return await OpenIdConnectConfigurationRetriever.GetAsync(issuer + "/.well-known/openid-configuration", retriever, cancel);
            }
            catch (IOException)
            {
                return await OpenIdConnectConfigurationRetriever.GetAsync(issuer + "/.well-known/oauth-authorization-server", retriever, cancel);
            }
        }
    }

    /// <summary>Validated tokens until they expire; at most 10,000 (then the expired ones go, or all).</summary>
    private sealed class TokenCache
    {
        private const int Capacity = 10_000;
        private readonly ConcurrentDictionary<string, (System.Security.Claims.ClaimsPrincipal Principal, DateTime Expires)> _tokens = new(StringComparer.Ordinal);

        public System.Security.Claims.ClaimsPrincipal? TryGet(string token) =>
            _tokens.TryGetValue(token, out var entry) && entry.Expires > DateTime.UtcNow ? entry.Principal : null;

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
}
