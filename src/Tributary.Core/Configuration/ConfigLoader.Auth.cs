using System.Net;
using Tributary.Core.Security;
using YamlDotNet.RepresentationModel;

namespace Tributary.Core.Configuration;

/// <summary>Reading and checking the <c>auth:</c> block and the server's <c>public_url</c> and <c>tls</c>.</summary>
public sealed partial class ConfigLoader
{
    private static readonly string[] AuthKeys = ["oauth", "api_keys", "mtls", "rate_limit"];
    private static readonly string[] OAuthKeys = ["issuer", "jwks_file", "audience", "algorithms", "clock_skew"];
    private static readonly string[] MtlsKeys = ["required", "ca_file", "thumbprints", "clients"];
    private static readonly string[] RateLimitKeys = ["per_minute", "burst", "unauthenticated_per_minute", "principals"];
    private static readonly string[] TlsKeys = ["certificate", "key", "password"];

    private static AuthConfig ReadAuth(NodeReader reader, YamlNode node, string baseDirectory)
    {
        var auth = new AuthConfig();
        if (reader.Mapping(node, "auth") is not { } mapping)
        {
            return auth;
        }

        foreach (var (key, value, path) in reader.Entries(mapping, "auth", AuthKeys))
        {
            auth = key switch
            {
                "oauth" => auth with { OAuth = ReadOAuth(reader, value, path, baseDirectory) },
                "api_keys" => auth with { ApiKeys = reader.Boolean(value, path) ?? false },
                "mtls" => auth with { Mtls = ReadMtls(reader, value, path, baseDirectory) },
                "rate_limit" => auth with { RateLimit = ReadRateLimit(reader, value, path) },
                _ => auth,
            };
        }

        return auth;
    }

    private static OAuthConfig? ReadOAuth(NodeReader reader, YamlNode node, string path, string baseDirectory)
    {
        if (reader.Mapping(node, path) is not { } mapping)
        {
            return null;
        }

        Uri? issuer = null;
        string? jwks = null, audience = null;
        IReadOnlyList<string> algorithms = OAuthConfig.DefaultAlgorithms;
        TimeSpan? skew = null;
        foreach (var (key, value, keyPath) in reader.Entries(mapping, path, OAuthKeys))
        {
            switch (key)
            {
                case "issuer":
                    issuer = reader.Url(value, keyPath);
                    if (issuer is not null && issuer.Scheme != "https" && !IsLoopbackHost(issuer.Host))
                    {
                        reader.Errors.Add(keyPath, $"'{issuer}' must use https: tokens and keys from an issuer over plain http could be forged on the way (http is accepted for a loopback issuer only)", LineOf(value.Start));
                    }

                    break;
                case "jwks_file":
                    jwks = ExistingFile(reader, value, keyPath, baseDirectory);
                    break;
                case "audience":
                    audience = reader.Scalar(value, keyPath);
                    break;
                case "algorithms":
                    algorithms = reader.StringList(value, keyPath);
                    foreach (var bad in algorithms.Where(a => !OAuthConfig.KnownAlgorithms.Contains(a)))
                    {
                        reader.Errors.Add(keyPath, $"'{bad}' is not an accepted signing algorithm (allowed: {string.Join(", ", OAuthConfig.KnownAlgorithms)}; never none or a shared-secret HS algorithm)", LineOf(value.Start));
                    }

                    break;
                case "clock_skew":
                    skew = reader.Duration(value, keyPath, TimeSpan.FromMinutes(5));
                    break;
            }
        }

        if (issuer is null)
        {
            reader.Errors.Add(path + ".issuer", "missing: the authorization server's issuer URL, such as https://login.example.com/", LineOf(mapping.Start));
            return null;
        }

        var oauth = new OAuthConfig { Issuer = issuer, JwksFile = jwks, Audience = audience, Algorithms = algorithms };
        return skew is { } clockSkew ? oauth with { ClockSkew = clockSkew } : oauth;
    }

    private static MtlsConfig? ReadMtls(NodeReader reader, YamlNode node, string path, string baseDirectory)
    {
        if (reader.Mapping(node, path) is not { } mapping)
        {
            return null;
        }

        var mtls = new MtlsConfig();
        foreach (var (key, value, keyPath) in reader.Entries(mapping, path, MtlsKeys))
        {
            switch (key)
            {
                case "required":
                    mtls = mtls with { Required = reader.Boolean(value, keyPath) ?? true };
                    break;
                case "ca_file":
                    mtls = mtls with { CaFile = ExistingFile(reader, value, keyPath, baseDirectory) };
                    break;
                case "thumbprints":
                    var thumbprints = reader.StringList(value, keyPath).Select(t => t.Replace(":", "", StringComparison.Ordinal).ToUpperInvariant()).ToArray();
                    foreach (var bad in thumbprints.Where(t => t.Length != 64 || !t.All(Uri.IsHexDigit)))
                    {
                        reader.Errors.Add(keyPath, $"'{bad}' is not a SHA-256 thumbprint (64 hex digits)", LineOf(value.Start));
                    }

                    mtls = mtls with { Thumbprints = thumbprints };
                    break;
                case "clients":
                    var clients = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
                    if (reader.Mapping(value, keyPath) is { } body)
                    {
                        foreach (var (subjectNode, scopesNode) in body.Children)
                        {
                            var subject = ((YamlScalarNode)subjectNode).Value ?? "";
                            clients[subject] = Scopes(reader, scopesNode, $"{keyPath}.{subject}");
                        }
                    }

                    mtls = mtls with { Clients = clients };
                    break;
            }
        }

        if (mtls.CaFile is null && mtls.Thumbprints.Count == 0)
        {
            reader.Errors.Add(path, "says which client certificates to trust: ca_file (a PEM bundle of issuing authorities), thumbprints, or both", LineOf(mapping.Start));
        }

        return mtls;
    }

    private static RateLimitConfig ReadRateLimit(NodeReader reader, YamlNode node, string path)
    {
        var limits = new RateLimitConfig();
        if (reader.Mapping(node, path) is not { } mapping)
        {
            return limits;
        }

        foreach (var (key, value, keyPath) in reader.Entries(mapping, path, RateLimitKeys))
        {
            limits = key switch
            {
                "per_minute" => limits with { PerMinute = (int)(reader.Integer(value, keyPath, 1, 10_000_000) ?? limits.PerMinute) },
                "burst" => limits with { Burst = (int)(reader.Integer(value, keyPath, 1, 1_000_000) ?? limits.Burst) },
                "unauthenticated_per_minute" => limits with { UnauthenticatedPerMinute = (int)(reader.Integer(value, keyPath, 1, 10_000_000) ?? limits.UnauthenticatedPerMinute) },
                "principals" => limits with { Principals = reader.Mapping(value, keyPath) is { } body
                    ? body.Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value ?? "", c => (int)(reader.Integer(c.Value, $"{keyPath}.{((YamlScalarNode)c.Key).Value}", 1, 10_000_000) ?? limits.PerMinute), StringComparer.Ordinal)
                    : limits.Principals },
                _ => limits,
            };
        }

        return limits;
    }

    private static TlsConfig? ReadTls(NodeReader reader, YamlNode node, string path, string baseDirectory)
    {
        if (reader.Mapping(node, path) is not { } mapping)
        {
            return null;
        }

        string? certificate = null, key = null, password = null;
        foreach (var (name, value, keyPath) in reader.Entries(mapping, path, TlsKeys))
        {
            switch (name)
            {
                case "certificate":
                    certificate = ExistingFile(reader, value, keyPath, baseDirectory);
                    break;
                case "key":
                    key = ExistingFile(reader, value, keyPath, baseDirectory);
                    break;
                case "password":
                    password = reader.Scalar(value, keyPath);
                    break;
            }
        }

        if (certificate is null)
        {
            reader.Errors.Add(path + ".certificate", "missing: the server certificate, a PEM file (with key) or a PKCS#12 file", LineOf(mapping.Start));
            return null;
        }

        return new TlsConfig { CertificateFile = certificate, KeyFile = key, Password = password };
    }

    /// <summary>The checks that need the server and auth blocks together.</summary>
    private static void CheckServerAndAuth(ServerConfig server, AuthConfig auth, ConfigErrors errors, int? httpLine)
    {
        if (HttpEndpoint.TryParse(server.Http, out var endpoint, out _) && !endpoint.IsLoopback && !auth.Enabled)
        {
            errors.Add("server.http", NonLoopbackRefusal(server.Http), httpLine);
        }

        if (auth.OAuth is not null && server.PublicUrl is null)
        {
            errors.Add("server.public_url", "missing: OAuth needs the URL clients use to reach this server (such as https://mcp.example.com): tokens must be issued for its /mcp endpoint");
        }

        if (auth.Mtls is not null && server.Tls is null)
        {
            errors.Add("auth.mtls", "client certificates need HTTPS: add server.tls with the server's certificate");
        }

        if (server.PublicUrl is { } url && url.Scheme != "https" && !IsLoopbackHost(url.Host))
        {
            errors.Add("server.public_url", $"'{url}' must use https (http is accepted for loopback only)");
        }
    }

    private static string[] Scopes(NodeReader reader, YamlNode node, string path)
    {
        var scopes = reader.StringList(node, path);
        foreach (var bad in scopes.Where(s => !Grants.IsValid(s)))
        {
            reader.Errors.Add(path, $"'{bad}' is not a scope (such as sources:shop:read, sources:*:write, topics:orders:publish, tools:user_orders, audit:read, or *)", LineOf(node.Start));
        }

        return scopes;
    }

    private static string? ExistingFile(NodeReader reader, YamlNode node, string path, string baseDirectory)
    {
        var text = reader.Scalar(node, path);
        if (text is null)
        {
            return null;
        }

        var full = Path.GetFullPath(text, baseDirectory);
        if (!File.Exists(full))
        {
            reader.Errors.Add(path, $"'{text}' does not exist (looked for {full})", LineOf(node.Start));
            return null;
        }

        return full;
    }

    private static bool IsLoopbackHost(string host) =>
        host == "localhost" || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
