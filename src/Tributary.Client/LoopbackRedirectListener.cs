using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tributary.Client;

/// <summary>
/// Receives the authorization server's redirect on a loopback address (RFC 8252, section 7.3): a socket on 127.0.0.1
/// (or ::1) that reads one GET at a time and answers it with a short page. It is bound for the client's whole life, so
/// the redirect URI a registration names stays valid across reconnects; it accepts only while an authorization waits.
/// </summary>
internal sealed class LoopbackRedirectListener : IDisposable
{
    private const int MaxRequestBytes = 16 * 1024;
    private static readonly TimeSpan RequestReadTimeout = TimeSpan.FromSeconds(10);
    private readonly TcpListener _listener;

    private LoopbackRedirectListener(TcpListener listener, Uri redirectUri)
    {
        _listener = listener;
        RedirectUri = redirectUri;
    }

    /// <summary>The URI the authorization server redirects to, such as <c>http://127.0.0.1:41234/callback</c>.</summary>
    public Uri RedirectUri { get; }

    /// <summary>True for an http URI on a loopback host with an explicit port.</summary>
    public static bool CanListenOn(Uri uri) =>
        uri.IsAbsoluteUri && uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback && !uri.IsDefaultPort && string.IsNullOrEmpty(uri.Query);

    /// <summary>Binds <paramref name="redirectUri"/>'s port, or an ephemeral port on 127.0.0.1 with path <c>/callback</c>.</summary>
    public static LoopbackRedirectListener Start(Uri? redirectUri)
    {
        var address = redirectUri?.HostNameType == UriHostNameType.IPv6 ? IPAddress.IPv6Loopback : IPAddress.Loopback;
        var listener = new TcpListener(address, redirectUri?.Port ?? 0);
        try
        {
            listener.Start();
        }
        catch (SocketException e)
        {
            throw new ArgumentException($"cannot listen for the authorization redirect on {redirectUri}: {e.Message}", e);
        }

        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        return new LoopbackRedirectListener(listener, redirectUri ?? new Uri($"http://127.0.0.1:{port}/callback"));
    }

    /// <summary>Waits for the redirect (a GET of the redirect path with <c>code</c> or <c>error</c>) and returns its full URI; other requests get 404.</summary>
    public async Task<Uri> ReceiveAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            using var connection = await _listener.AcceptTcpClientAsync(cancellationToken);
            var stream = connection.GetStream();
            string? target;
            using (var read = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                read.CancelAfter(RequestReadTimeout);
                try
                {
                    target = await ReadRequestTargetAsync(stream, read.Token);
                }
                catch (Exception e) when (e is IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    // A client that went away or never finished its request: wait for the next one.
                    continue;
                }
            }

            var received = target is not null && Uri.TryCreate(RedirectUri, target, out var uri) ? uri : null;
            var isRedirect = received is not null && received.AbsolutePath == RedirectUri.AbsolutePath &&
                (received.Query.Contains("code=", StringComparison.Ordinal) || received.Query.Contains("error=", StringComparison.Ordinal));
            await AnswerAsync(stream, isRedirect, cancellationToken);
            if (isRedirect)
            {
                return received!;
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();

    /// <summary>The request target of a GET (<c>/callback?code=...</c>), once its headers have arrived; null for anything else.</summary>
    private static async Task<string?> ReadRequestTargetAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxRequestBytes];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken);
            if (read == 0)
            {
                return null;
            }

            length += read;
            var text = Encoding.ASCII.GetString(buffer, 0, length);
            if (text.Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var requestLine = text[..text.IndexOf("\r\n", StringComparison.Ordinal)].Split(' ');
                return requestLine is ["GET", var target, ..] && target.StartsWith('/') ? target : null;
            }
        }

        return null;
    }

    private static async Task AnswerAsync(NetworkStream stream, bool isRedirect, CancellationToken cancellationToken)
    {
        var body = isRedirect
            ? "<!doctype html><title>Tributary</title><p>Authorization received. You may close this window."
            : "<!doctype html><title>Tributary</title><p>Not found.";
        var response = $"HTTP/1.1 {(isRedirect ? "200 OK" : "404 Not Found")}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}";
        try
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(response), cancellationToken);
        }
        catch (IOException)
        {
            // The browser went away before the page: the redirect itself has arrived.
        }
    }
}
