using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Tributary.Core.Configuration;
using Tributary.Core.Security;
using Tributary.Core.Sources;

namespace Tributary.Sources.Http;

/// <summary>The <c>http</c> provider: a REST API behind the SSRF guard, called with the source's own credentials.</summary>
public sealed class HttpProvider : ISourceProvider
{
    /// <summary>The provider's name in configuration.</summary>
    public const string KindName = "http";

    /// <summary>The largest <c>max_response_bytes</c> accepted (1 GiB).</summary>
    public const long MaxResponseBytesLimit = 1024L * 1024 * 1024;

    /// <summary>The largest answer of <paramref name="source"/> a cache may hold: its <c>max_response_bytes</c> once decompressed (five times it).</summary>
    public static long MaxCachedBytes(SourceConfig source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return 5 * (source.Settings.TryGetValue("max_response_bytes", out var bytes) && long.TryParse(bytes, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) ? limit : UpstreamPolicy.DefaultMaxResponseBytes);
    }

    /// <inheritdoc />
    public string Kind => KindName;

    /// <inheritdoc />
    public bool IsDatabase => false;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> SettingKeys { get; } = new Dictionary<string, string>
    {
        ["base_url"] = "the API's base URL, such as https://api.github.com (http or https)",
        ["allowed_hosts"] = "host names the source may call (default: the base URL's host); *.example.com allows its subdomains",
        ["allowed_ranges"] = "private address ranges the source may reach, such as 10.1.0.0/16 (default: none)",
        ["bearer_token"] = "a token sent as Authorization: Bearer (use ${VAR} to read it from the environment)",
        ["api_key_header"] = "the header an API key goes in, such as X-Api-Key",
        ["api_key"] = "the API key (use ${VAR})",
        ["headers"] = "headers sent on every call, as a mapping such as { Accept: application/vnd.github+json }",
        ["hmac_secret"] = "a secret that signs every call with HMAC-SHA256 (use ${VAR})",
        ["hmac_header"] = "the header the signature goes in (default X-Tributary-Signature)",
        ["oauth_token_url"] = "OAuth 2.1 client credentials for the API: the token endpoint (https, or http on loopback)",
        ["oauth_client_id"] = "the source's client id",
        ["oauth_client_secret"] = "its secret (use ${VAR})",
        ["oauth_scopes"] = "scopes to ask for",
        ["oauth_resource"] = "the API's resource indicator (RFC 8707), when its authorization server wants one",
        ["client_certificate"] = "a PEM client certificate the source presents to its API (mTLS), with its key unless client_key names another file",
        ["client_key"] = "the client certificate's private key (PEM)",
        ["ca_file"] = "a PEM authority that issued the API's certificate, trusted for this source instead of the system's roots",
        ["max_response_bytes"] = "largest answer read (default 10 MiB)",
        ["timeout"] = "longest one try may take, such as 30s (default 30s)",
        ["retries"] = "retries of timeouts, dropped connections, HTTP 5xx and 429 (default 2; 0 for none)",
        ["cache_ttl"] = "how long an answer is served without asking the API again, such as 30s (default 0s: always ask)",
        ["stale_if_error"] = "how long the last good answer may be served, marked stale, while the API fails (default 10m; 0s: never)",
        ["cache_max_entries"] = "most answers kept (default 1000)",
    };

    /// <inheritdoc />
    public IReadOnlyCollection<string> MappingSettingKeys { get; } = ["headers"];

    /// <inheritdoc />
    public void Validate(SourceConfig source, SourceContext context, ConfigErrors errors)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(errors);
        _ = Read(source, context, errors);
    }

    /// <inheritdoc />
    public IDataSource Create(SourceConfig source, SourceContext context)
    {
        ArgumentNullException.ThrowIfNull(source);
        var errors = new ConfigErrors();
        return new HttpSource(source, Read(source, context, errors) ?? throw new ConfigException(errors.All), context.Cache, context.Changed);
    }

    /// <summary>The source's settings, or null with the problems in <paramref name="errors"/>.</summary>
    internal static HttpSourceSettings? Read(SourceConfig source, SourceContext context, ConfigErrors errors)
    {
        var settings = source.Settings;
        var path = source.Path;
        var before = errors.All.Count;
        Uri? baseUrl = null;
        if (!settings.TryGetValue("base_url", out var url) || string.IsNullOrWhiteSpace(url))
        {
            errors.Add(path + ".base_url", "missing: give the API's base URL, such as https://api.example.com");
        }
        else if (!Uri.TryCreate(url, UriKind.Absolute, out baseUrl) || baseUrl.Scheme is not ("http" or "https") || baseUrl.UserInfo.Length > 0)
        {
            errors.Add(path + ".base_url", $"'{url}' is not an http or https URL without user info, such as https://api.example.com");
        }

        var ranges = new List<IPNetwork>();
        foreach (var range in List(settings, "allowed_ranges"))
        {
            if (IPNetwork.TryParse(range, out var network))
            {
                ranges.Add(network);
            }
            else
            {
                errors.Add(path + ".allowed_ranges", $"'{range}' is not an address range: write it as 10.1.0.0/16 or fd00:1::/64");
            }
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (settings.TryGetValue("bearer_token", out var bearer) && bearer.Length > 0)
        {
            headers["Authorization"] = "Bearer " + bearer;
        }

        var keyHeader = settings.GetValueOrDefault("api_key_header");
        var key = settings.GetValueOrDefault("api_key");
        if (keyHeader is null != key is null)
        {
            errors.Add(path + (keyHeader is null ? ".api_key_header" : ".api_key"), "api_key and api_key_header go together: name the header and give the key");
        }
        else if (keyHeader is not null && HeaderProblem(keyHeader, key!) is { } problem)
        {
            errors.Add(path + ".api_key_header", problem);
        }
        else if (keyHeader is not null)
        {
            headers[keyHeader] = key!;
        }

        UpstreamOAuth? oauth = null;
        if (settings.TryGetValue("oauth_token_url", out var tokenUrl))
        {
            if (!Uri.TryCreate(tokenUrl, UriKind.Absolute, out var token) || !(token.Scheme == "https" || (token.Scheme == "http" && token.IsLoopback)))
            {
                errors.Add(path + ".oauth_token_url", $"'{tokenUrl}' is not an https URL (http only on loopback)");
            }
            else if (settings.GetValueOrDefault("oauth_client_id") is not { Length: > 0 } clientId || settings.GetValueOrDefault("oauth_client_secret") is not { Length: > 0 } secret)
            {
                errors.Add(path + ".oauth_client_id", "oauth_token_url needs oauth_client_id and oauth_client_secret");
            }
            else if (headers.ContainsKey("Authorization"))
            {
                errors.Add(path + ".oauth_token_url", "choose bearer_token or OAuth client credentials, not both");
            }
            else
            {
                oauth = new UpstreamOAuth(token, clientId, secret, List(settings, "oauth_scopes"), settings.GetValueOrDefault("oauth_resource"));
            }
        }

        UpstreamSigning? signing = null;
        if (settings.TryGetValue("hmac_secret", out var hmacSecret))
        {
            signing = new UpstreamSigning(System.Text.Encoding.UTF8.GetBytes(hmacSecret), settings.GetValueOrDefault("hmac_header") ?? RequestSignature.DefaultHeader);
            if (hmacSecret.Length == 0)
            {
                errors.Add(path + ".hmac_secret", "is empty: give the secret the API verifies signatures with, from the environment: ${API_SIGNING_SECRET}");
            }
            else if (HeaderProblem(signing.Header, "") is { } problem)
            {
                errors.Add(path + ".hmac_header", problem);
            }
            else if (!headers.TryAdd(signing.Header, ""))
            {
                errors.Add(path + ".hmac_header", $"'{signing.Header}' already carries the source's credentials: name another header");
            }
        }
        else if (settings.ContainsKey("hmac_header"))
        {
            errors.Add(path + ".hmac_header", "names the signature's header, but no hmac_secret signs: add hmac_secret or remove hmac_header");
        }

        if (settings.TryGetValue("headers", out var fixedHeaders))
        {
            foreach (var (name, value) in HeaderMap(fixedHeaders))
            {
                if (HeaderProblem(name, value) is { } problem)
                {
                    errors.Add($"{path}.headers.{name}", problem);
                }
                else if ((oauth is not null && name.Equals("Authorization", StringComparison.OrdinalIgnoreCase)) || !headers.TryAdd(name, value))
                {
                    errors.Add($"{path}.headers.{name}", $"'{name}' is set by the source's credentials or signature (bearer_token, api_key_header, oauth_*, hmac_header): remove it here");
                }
            }
        }

        if (signing is not null)
        {
            headers.Remove(signing.Header);
        }

        var certificate = settings.TryGetValue("client_certificate", out var certificatePath)
            ? Load("client_certificate", () => PemFiles.Certificate(context.ResolvePath(certificatePath), settings.GetValueOrDefault("client_key") is { } key ? context.ResolvePath(key) : null))
            : null;
        var authorities = settings.TryGetValue("ca_file", out var caPath) ? Load("ca_file", () => PemFiles.Authorities(context.ResolvePath(caPath))) : null;

        var maxBytes = UpstreamPolicy.DefaultMaxResponseBytes;
        if (settings.TryGetValue("max_response_bytes", out var max) && (!long.TryParse(max, NumberStyles.None, CultureInfo.InvariantCulture, out maxBytes) || maxBytes is < 1024 or > MaxResponseBytesLimit))
        {
            errors.Add(path + ".max_response_bytes", $"'{max}' is not a size from 1024 to 1073741824 bytes");
        }

        var timeout = TimeSpan.FromSeconds(30);
        if (settings.TryGetValue("timeout", out var time) && (!DurationParser.TryParse(time, out timeout) || timeout <= TimeSpan.Zero || timeout > TimeSpan.FromMinutes(5)))
        {
            errors.Add(path + ".timeout", $"'{time}' is not a duration up to 5 minutes, such as 30s");
        }

        var retries = 2;
        if (settings.TryGetValue("retries", out var given) && (!int.TryParse(given, NumberStyles.None, CultureInfo.InvariantCulture, out retries) || retries > 5))
        {
            errors.Add(path + ".retries", $"'{given}' is not a number of retries from 0 to 5");
        }

        var cache = new CacheOptions();
        if (settings.TryGetValue("cache_ttl", out var ttlText))
        {
            cache = cache with { Ttl = Duration(ttlText, "cache_ttl", TimeSpan.FromDays(1)) ?? cache.Ttl };
        }

        if (settings.TryGetValue("stale_if_error", out var staleText))
        {
            cache = cache with { StaleIfError = Duration(staleText, "stale_if_error", TimeSpan.FromDays(7)) ?? cache.StaleIfError };
        }

        if (settings.TryGetValue("cache_max_entries", out var entries))
        {
            cache = cache with { MaxEntries = int.TryParse(entries, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count is >= 1 and <= 1_000_000 ? count : Bad<int>("cache_max_entries", $"'{entries}' is not a number from 1 to 1000000") };
        }

        if (errors.All.Count > before || baseUrl is null)
        {
            return null;
        }

        var hosts = List(settings, "allowed_hosts");
        var policy = new UpstreamPolicy
        {
            AllowedHosts = hosts.Length > 0 ? hosts : [baseUrl.IdnHost],
            AllowedRanges = ranges,
            CredentialHeaders = [.. new[] { keyHeader, signing?.Header }.OfType<string>()],
            ClientCertificate = certificate,
            TrustedAuthorities = authorities,
            MaxResponseBytes = maxBytes,
            MaxDecompressedBytes = Math.Max(maxBytes, 5 * maxBytes),
            TotalTimeout = timeout,
        };
        if (!policy.AllowsHost(baseUrl.IdnHost))
        {
            errors.Add(path + ".allowed_hosts", $"the base URL's host '{baseUrl.Host}' is not among allowed_hosts: add it");
            return null;
        }

        return new HttpSourceSettings(baseUrl, policy, headers, new ResilienceOptions { Retries = retries, Budget = (timeout * (retries + 1)) + TimeSpan.FromSeconds(10) }, cache, oauth, signing);

        TimeSpan? Duration(string text, string key, TimeSpan max)
        {
            if (DurationParser.TryParse(text, out var value) && value >= TimeSpan.Zero && value <= max)
            {
                return value;
            }

            errors.Add(path + "." + key, $"'{text}' is not a duration from 0s to {max.TotalDays:0} days, such as 30s or 10m");
            return null;
        }

        T? Load<T>(string key, Func<T> load)
            where T : class
        {
            try
            {
                return load();
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
            {
                errors.Add(path + "." + key, $"cannot read a PEM certificate{(key == "client_certificate" ? " and its key" : "")}: {e.Message}");
                return null;
            }
        }

        T Bad<T>(string key, string message)
        {
            errors.Add(path + "." + key, message);
            return default!;
        }

        IEnumerable<KeyValuePair<string, string>> HeaderMap(string json)
        {
            try
            {
                using var document = System.Text.Json.JsonDocument.Parse(json);
                return document.RootElement.EnumerateObject().Select(p => new KeyValuePair<string, string>(p.Name, p.Value.GetString() ?? "")).ToArray();
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
            {
                errors.Add(path + ".headers", "write the headers as a mapping of names to values, such as headers: { Accept: application/vnd.github+json, X-Team: data }");
                return [];
            }
        }
    }

    /// <summary>Why a header may not be one the source sends on every call, or null when it may.</summary>
    private static string? HeaderProblem(string name, string value)
    {
        if (name.Length == 0 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal))))
        {
            return $"'{name}' is not a header name: letters, digits and - (such as X-Team)";
        }

        if (ReservedHeaders.Contains(name))
        {
            return $"'{name}' is managed by Tributary's HTTP client for each connection and request: remove it";
        }

        return value.Any(c => char.IsControl(c) && c != '\t')
            ? $"the value of '{name}' holds a line break or another control character, which would split the request: give a single-line value"
            : null;
    }

    // Hop-by-hop headers, and those that describe one connection or one body rather than the API call.
    private static readonly HashSet<string> ReservedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Host", "Content-Length", "Content-Type", "Accept-Encoding", "Expect",
    };

    private static string[] List(IReadOnlyDictionary<string, string> settings, string key) =>
        settings.TryGetValue(key, out var value) ? value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
}

/// <summary>A validated <c>http</c> source: where, what it may reach, and the headers it sends (its credentials among them).</summary>
internal sealed record HttpSourceSettings(Uri BaseUrl, UpstreamPolicy Policy, IReadOnlyDictionary<string, string> Headers, ResilienceOptions Resilience, CacheOptions Cache, UpstreamOAuth? OAuth, UpstreamSigning? Signing);

/// <summary>How a source signs its calls: HMAC-SHA256 with <paramref name="Key"/>, in <paramref name="Header"/> (see <see cref="RequestSignature.Sign"/>).</summary>
internal sealed record UpstreamSigning(byte[] Key, string Header);
