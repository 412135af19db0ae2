using System.Net;

namespace Tributary.Sources.Http;

/// <summary>What one HTTP source may reach and how much it may take.</summary>
public sealed record UpstreamPolicy
{
    /// <summary>Host names the source may call: exact names, or <c>*.example.com</c> for its subdomains. Never empty in use: the base URL's host by default.</summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    /// <summary>Address ranges the source may reach although they are private or reserved (such as <c>10.1.0.0/16</c> for an internal API): an explicit choice.</summary>
    public IReadOnlyList<IPNetwork> AllowedRanges { get; init; } = [];

    /// <summary>The default <see cref="MaxResponseBytes"/>: 10 MiB.</summary>
    public const long DefaultMaxResponseBytes = 10 * 1024 * 1024;

    /// <summary>Largest response body read, as it arrives on the wire.</summary>
    public long MaxResponseBytes { get; init; } = DefaultMaxResponseBytes;

    /// <summary>Largest response body once decompressed (gzip, Brotli, deflate).</summary>
    public long MaxDecompressedBytes { get; init; } = 50 * 1024 * 1024;

    /// <summary>Most redirects followed, each re-checked like the first URL.</summary>
    public int MaxRedirects { get; init; } = 5;

    /// <summary>Longest wait for a connection.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest a whole call may take: redirects and the body included.</summary>
    public TimeSpan TotalTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Headers that carry the source's credentials besides <c>Authorization</c> (its API key's, its signature's): like it, dropped when a redirect leaves the origin.</summary>
    public IReadOnlyList<string> CredentialHeaders { get; init; } = [];

    /// <summary>A client certificate (with its key) the source presents to an API that asks for one (mTLS).</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate { get; init; }

    /// <summary>Private authorities that issued the API's certificate: trusted for this source instead of the system's roots.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2Collection? TrustedAuthorities { get; init; }

    /// <summary>True when <paramref name="host"/> is one of <see cref="AllowedHosts"/>.</summary>
    public bool AllowsHost(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        foreach (var allowed in AllowedHosts)
        {
            if (allowed.StartsWith("*.", StringComparison.Ordinal)
                ? host.EndsWith(allowed[1..], StringComparison.OrdinalIgnoreCase) && host.Length > allowed.Length - 1
                : string.Equals(host, allowed, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>An upstream call that did not happen or did not finish, with a message fit for the model: what went wrong and what may help, never an internal address.</summary>
public sealed class UpstreamException(string message, bool transient = false, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>True when trying again later may succeed (a timeout, a refused or dropped connection).</summary>
    public bool Transient { get; } = transient;
}
