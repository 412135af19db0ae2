namespace Tributary.Core.Configuration;

/// <summary>
/// Who may use Tributary over HTTP (<c>auth:</c>). The schemes combine; once any is configured, every MCP and webhook
/// endpoint requires a principal (health checks and the protected resource metadata stay open), and a non-loopback bind
/// address is allowed.
/// </summary>
public sealed record AuthConfig
{
    /// <summary>OAuth 2.1 bearer tokens (JWT) from an authorization server; null when not configured.</summary>
    public OAuthConfig? OAuth { get; init; }

    /// <summary>API keys managed with <c>tributary keys</c> and kept hashed in the state store.</summary>
    public bool ApiKeys { get; init; }

    /// <summary>Client certificates over HTTPS; null when not configured.</summary>
    public MtlsConfig? Mtls { get; init; }

    /// <summary>Request rate limits.</summary>
    public RateLimitConfig RateLimit { get; init; } = new();

    /// <summary>The identity of a stdio session: scopes of the API key in <c>TRIBUTARY_API_KEY</c>, else every scope (the local user who started it).</summary>
    public const string StdioKeyVariable = "TRIBUTARY_API_KEY";

    /// <summary>True when any scheme is configured.</summary>
    public bool Enabled => OAuth is not null || ApiKeys || Mtls is not null;
}

/// <summary>An OAuth 2.1 authorization server whose JWT access tokens Tributary accepts.</summary>
public sealed record OAuthConfig
{
    /// <summary>Signing algorithms accepted by default (never <c>none</c>, never a symmetric one).</summary>
    public static readonly IReadOnlyList<string> DefaultAlgorithms = ["RS256", "PS256", "ES256"];

    /// <summary>Algorithms that may be allowed.</summary>
    public static readonly IReadOnlyList<string> KnownAlgorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];

    /// <summary>The issuer: tokens' <c>iss</c>, and where its metadata (OIDC discovery or RFC 8414) and keys are found.</summary>
    public required Uri Issuer { get; init; }

    /// <summary>A JWKS file with the issuer's keys, instead of discovery; null to discover them.</summary>
    public string? JwksFile { get; init; }

    /// <summary>The audience tokens must carry; default this server's canonical resource URI (<c>server.public_url</c> + <c>/mcp</c>).</summary>
    public string? Audience { get; init; }

    /// <summary>Accepted signing algorithms.</summary>
    public IReadOnlyList<string> Algorithms { get; init; } = DefaultAlgorithms;

    /// <summary>Tolerated clock difference for expiry and not-before.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>Client certificates (mutual TLS): which are trusted and which principal each one is.</summary>
public sealed record MtlsConfig
{
    /// <summary>True when every connection must present a certificate; false lets other schemes in without one.</summary>
    public bool Required { get; init; } = true;

    /// <summary>A PEM bundle of the certificate authorities that issue client certificates.</summary>
    public string? CaFile { get; init; }

    /// <summary>SHA-256 thumbprints (hex) of certificates trusted on their own.</summary>
    public IReadOnlyList<string> Thumbprints { get; init; } = [];

    /// <summary>Certificate subjects (such as <c>CN=ci-runner</c>) and the scopes they get; a trusted certificate not listed gets none.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Clients { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
}

/// <summary>Token-bucket rate limits: per principal, and per address for requests without one.</summary>
public sealed record RateLimitConfig
{
    /// <summary>Requests per minute per principal.</summary>
    public int PerMinute { get; init; } = 1200;

    /// <summary>Requests a principal may make at once above the steady rate.</summary>
    public int Burst { get; init; } = 200;

    /// <summary>Requests per minute per client address without a valid principal.</summary>
    public int UnauthenticatedPerMinute { get; init; } = 60;

    /// <summary>Per-principal overrides of <see cref="PerMinute"/>, by principal name (an API key's name, a token's subject).</summary>
    public IReadOnlyDictionary<string, int> Principals { get; init; } = new Dictionary<string, int>();
}

/// <summary>HTTPS for the server's own endpoint.</summary>
public sealed record TlsConfig
{
    /// <summary>The server certificate: a PEM file (with <see cref="KeyFile"/>) or a PKCS#12 file.</summary>
    public required string CertificateFile { get; init; }

    /// <summary>The PEM private key of the certificate; null for PKCS#12.</summary>
    public string? KeyFile { get; init; }

    /// <summary>The password of the PKCS#12 file or of the encrypted key.</summary>
    public string? Password { get; init; }
}
