using System.Collections.Concurrent;
using System.Net;

namespace Tributary.Testing;

/// <summary>
/// A small HTTP server on a free loopback port for upstreams that misbehave on purpose: each request is handed to the
/// handler on its own task, with a token that is cancelled when the server is disposed (so held-open answers end).
/// </summary>
public sealed class LoopbackHttpServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Task> _handlers = [];
    private readonly Task _accepting;

    private LoopbackHttpServer(Func<HttpListenerContext, CancellationToken, Task> handle)
    {
        Port = TestPaths.FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _accepting = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                _handlers.Add(Task.Run(() => handle(context, _stop.Token)));
            }
        });
    }

    /// <summary>The port it listens on.</summary>
    public int Port { get; }

    /// <summary>Its base address, such as <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress => new($"http://127.0.0.1:{Port}/");

    /// <summary>Starts serving every request with <paramref name="handle"/>.</summary>
    public static LoopbackHttpServer Start(Func<HttpListenerContext, CancellationToken, Task> handle) => new(handle);

    /// <summary>Writes <paramref name="body"/> as the whole answer.</summary>
    public static async Task AnswerAsync(HttpListenerContext context, string contentType, ReadOnlyMemory<byte> body)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.ContentType = contentType;
        await context.Response.OutputStream.WriteAsync(body);
        context.Response.Close();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        await Task.WhenAll(_handlers);
        _listener.Close();
        _stop.Dispose();
    }
}
