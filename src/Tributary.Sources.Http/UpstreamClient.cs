using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace Tributary.Sources.Http;

/// <summary>One upstream's answer.</summary>
/// <param name="Status">The HTTP status of the last hop.</param>
/// <param name="ContentType">Its media type, if it said.</param>
/// <param name="Body">The body, decompressed.</param>
/// <param name="Url">The URL that answered (after redirects).</param>
/// <param name="RetryAfter">How long the upstream asked callers to wait (<c>Retry-After</c>), if it did.</param>
public sealed record UpstreamResponse(int Status, string? ContentType, byte[] Body, Uri Url, TimeSpan? RetryAfter = null);

/// <summary>
/// Calls upstream HTTP APIs for one source without letting a URL reach what it should not: only <c>http</c> and
/// <c>https</c>, only allowed hosts, no user info; every address a name resolves to is checked when the connection is
/// made (so DNS cannot point an allowed name at a private address), redirects are followed by hand with each hop
/// checked again and the source's credentials dropped when the host changes; bodies are capped while they stream, and
/// once more after decompression; connect and total timeouts.
/// </summary>
public sealed class UpstreamClient : IDisposable
{
    private static readonly HashSet<HttpStatusCode> Redirects = [HttpStatusCode.MovedPermanently, HttpStatusCode.Found, HttpStatusCode.SeeOther, HttpStatusCode.TemporaryRedirect, HttpStatusCode.PermanentRedirect];

    private readonly UpstreamPolicy _policy;
    private readonly HttpClient _http;

    /// <summary>A client for <paramref name="policy"/>, resolving names with the system's DNS.</summary>
    public UpstreamClient(UpstreamPolicy policy)
        : this(policy, (host, token) => Dns.GetHostAddressesAsync(host, token))
    {
    }

    internal UpstreamClient(UpstreamPolicy policy, Func<string, CancellationToken, Task<IPAddress[]>> resolve)
    {
        _policy = policy;
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            ConnectTimeout = policy.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectCallback = (context, token) => ConnectAsync(context.DnsEndPoint, resolve, token),
            SslOptions =
            {
                ClientCertificates = policy.ClientCertificate is { } certificate ? [certificate] : null,
                CertificateChainPolicy = policy.TrustedAuthorities is { } authorities ? TrustOnly(authorities) : null,
            },
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    private static System.Security.Cryptography.X509Certificates.X509ChainPolicy TrustOnly(System.Security.Cryptography.X509Certificates.X509Certificate2Collection authorities)
    {
        var policy = new System.Security.Cryptography.X509Certificates.X509ChainPolicy
        {
            TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust,
            RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.AddRange(authorities);
        return policy;
    }

    /// <summary>
    /// Sends <paramref name="request"/> (its URL absolute) and reads the whole answer; anything the policy forbids, a
    /// body over the caps, a timeout or an unreachable upstream is an <see cref="UpstreamException"/>.
    /// </summary>
    public Task<UpstreamResponse> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => SendAsync(request, null, cancellationToken);

    /// <summary>
    /// Sends <paramref name="request"/> as <see cref="SendAsync(HttpRequestMessage, CancellationToken)"/> does, and hands
    /// each request a redirect makes to <paramref name="redirected"/> before it is sent, its headers already those that
    /// may follow it (so that what depends on the target, such as a signature, can be made again for it).
    /// </summary>
    public async Task<UpstreamResponse> SendAsync(HttpRequestMessage request, Action<HttpRequestMessage>? redirected, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var total = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        total.CancelAfter(_policy.TotalTimeout);
        var first = request.RequestUri ?? throw new ArgumentException("the request needs an absolute URL", nameof(request));
        try
        {
            var current = request;
            for (var hop = 0; ; hop++)
            {
                Check(current.RequestUri!);
                current.Headers.AcceptEncoding.Clear();
                current.Headers.AcceptEncoding.ParseAdd("gzip, br, deflate");
                using var response = await _http.SendAsync(current, HttpCompletionOption.ResponseHeadersRead, total.Token);
                if (Redirects.Contains(response.StatusCode) && response.Headers.Location is { } location)
                {
                    if (hop >= _policy.MaxRedirects)
                    {
                        throw new UpstreamException($"{first} redirected more than {_policy.MaxRedirects} times: stopped");
                    }

                    current = Follow(current, response.StatusCode, new Uri(current.RequestUri!, location));
                    redirected?.Invoke(current);
                    continue;
                }

                var body = await ReadAsync(response.Content, total.Token);
                var retryAfter = response.Headers.RetryAfter is { } after ? after.Delta ?? (after.Date - DateTimeOffset.UtcNow) : null;
                return new UpstreamResponse((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, body, current.RequestUri!, retryAfter);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new UpstreamException($"{first.GetLeftPart(UriPartial.Path)} did not answer within {_policy.TotalTimeout.TotalSeconds:0.#} s", transient: true);
        }
        catch (HttpRequestException e) when (Find<UpstreamException>(e) is { } blocked)
        {
            throw blocked;
        }
        catch (HttpRequestException e)
        {
            throw new UpstreamException($"{first.GetLeftPart(UriPartial.Path)} could not be reached ({Reason(e)})", transient: true, e);
        }
        catch (IOException e)
        {
            throw new UpstreamException($"the connection to {first.Host} broke while reading the answer", transient: true, e);
        }
    }

    /// <summary>Refuses a URL of another scheme, with user info, or for a host the source may not call.</summary>
    public void Check(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsAbsoluteUri || url.Scheme is not ("http" or "https"))
        {
            throw new UpstreamException($"only http and https URLs are fetched, not '{(url.IsAbsoluteUri ? url.Scheme + ":" : url.OriginalString)}'");
        }

        if (url.UserInfo.Length > 0)
        {
            throw new UpstreamException("URLs with user info (user@host) are refused: the source's credentials come from its configuration");
        }

        if (!_policy.AllowsHost(url.IdnHost))
        {
            throw new UpstreamException($"'{url.Host}' is not one of this source's allowed hosts ({string.Join(", ", _policy.AllowedHosts)})");
        }
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    /// <summary>The next hop's request: 303 (and 301/302 after a POST) become a GET; the source's credentials stay with the host they were meant for.</summary>
    private HttpRequestMessage Follow(HttpRequestMessage previous, HttpStatusCode status, Uri next)
    {
        var keepMethod = status is HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect || previous.Method == HttpMethod.Get || previous.Method == HttpMethod.Head;
        var request = new HttpRequestMessage(keepMethod ? previous.Method : HttpMethod.Get, next) { Content = keepMethod ? previous.Content : null };
        var sameHost = string.Equals(previous.RequestUri!.Host, next.Host, StringComparison.OrdinalIgnoreCase) && previous.RequestUri.Port == next.Port && previous.RequestUri.Scheme == next.Scheme;
        foreach (var (name, values) in previous.Headers)
        {
            if (sameHost || !IsCredential(name))
            {
                request.Headers.TryAddWithoutValidation(name, values);
            }
        }

        return request;
    }

    private bool IsCredential(string header) =>
        header.Equals("Authorization", StringComparison.OrdinalIgnoreCase) || _policy.CredentialHeaders.Contains(header, StringComparer.OrdinalIgnoreCase) || header.Equals("Cookie", StringComparison.OrdinalIgnoreCase)
        || header.Contains("key", StringComparison.OrdinalIgnoreCase) || header.Contains("token", StringComparison.OrdinalIgnoreCase) || header.Contains("signature", StringComparison.OrdinalIgnoreCase);

    /// <summary>Connects to the first address of <paramref name="endpoint"/> the guard allows; when it allows none, the call is refused.</summary>
    private async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, Func<string, CancellationToken, Task<IPAddress[]>> resolve, CancellationToken cancellationToken)
    {
        var addresses = IPAddress.TryParse(endpoint.Host, out var literal) ? [literal] : await resolve(endpoint.Host, cancellationToken);
        var allowed = addresses.Where(a => AddressGuard.WhyBlocked(a, _policy.AllowedRanges) is null).ToArray();
        if (allowed.Length == 0)
        {
            var why = addresses.Length == 0 ? "no address" : AddressGuard.WhyBlocked(addresses[0], _policy.AllowedRanges);
            throw new UpstreamException(literal is null
                ? $"'{endpoint.Host}' resolves to {why}, which this source may not reach (a source reaches private ranges only when its allowed_ranges say so)"
                : $"'{endpoint.Host}' is {why}, which this source may not reach (a source reaches private ranges only when its allowed_ranges say so)");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, endpoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Reads the body within the caps: its size on the wire, then decompressed.</summary>
    private async Task<byte[]> ReadAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > _policy.MaxResponseBytes)
        {
            throw new UpstreamException($"the answer is {content.Headers.ContentLength} bytes, over this source's limit of {_policy.MaxResponseBytes}: ask for less (a filter, a page)");
        }

        await using var wire = new CappedStream(await content.ReadAsStreamAsync(cancellationToken), _policy.MaxResponseBytes, "the answer is over this source's limit of {0} bytes: ask for less (a filter, a page)");
        var encoding = content.Headers.ContentEncoding.LastOrDefault()?.ToLowerInvariant();
        await using Stream decoded = encoding switch
        {
            null or "identity" => wire,
            "gzip" => new GZipStream(wire, CompressionMode.Decompress),
            "br" => new BrotliStream(wire, CompressionMode.Decompress),
            "deflate" => new ZLibStream(wire, CompressionMode.Decompress),
            _ => throw new UpstreamException($"the answer is encoded as '{encoding}', which Tributary does not read"),
        };
        await using var capped = new CappedStream(decoded, _policy.MaxDecompressedBytes, "the answer decompresses to more than this source's limit of {0} bytes: refused");
        using var buffer = new MemoryStream();
        try
        {
            await capped.CopyToAsync(buffer, cancellationToken);
        }
        catch (InvalidDataException e)
        {
            throw new UpstreamException($"the answer's {encoding} encoding is broken", inner: e);
        }

        return buffer.ToArray();
    }

    private static string Reason(HttpRequestException e) => e.HttpRequestError switch
    {
        HttpRequestError.ConnectionError => "connection refused or dropped",
        HttpRequestError.NameResolutionError => "the name does not resolve",
        HttpRequestError.SecureConnectionError => "the TLS handshake failed",
        HttpRequestError.ResponseEnded => "the answer ended early",
        HttpRequestError.InvalidResponse => "not a valid HTTP answer",
        _ => "the request failed",
    };

    private static T? Find<T>(Exception? error)
        where T : Exception
    {
        for (; error is not null; error = error.InnerException)
        {
            if (error is T found)
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>A read-only stream that fails once more than its limit has been read.</summary>
    private sealed class CappedStream(Stream inner, long limit, string message) : Stream
    {
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        private int Count(int read)
        {
            _read += read;
            return _read > limit ? throw new UpstreamException(string.Format(System.Globalization.CultureInfo.InvariantCulture, message, limit)) : read;
        }
    }
}
