using System.Collections.Concurrent;
using System.Text;

namespace Tributary.Testing;

/// <summary>What an upstream received: the method, the request target exactly as sent, the headers and the body.</summary>
public sealed record RecordedRequest(string Method, string Target, System.Collections.Specialized.NameValueCollection Headers, string Body);

/// <summary>
/// A loopback API that records every request and answers with <c>(status, content type, body)</c> from its handler; a
/// redirect's (3xx) body is its <c>Location</c>.
/// </summary>
public sealed class RecordingUpstream : IAsyncDisposable
{
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly LoopbackHttpServer _server;

    public RecordingUpstream(Func<RecordedRequest, (int Status, string ContentType, string Body)> answer)
        : this((request, _) => Task.FromResult(answer(request)))
    {
    }

    /// <summary>Answers each request when <paramref name="answer"/> has (it may hold a request open; its token ends with the server).</summary>
    public RecordingUpstream(Func<RecordedRequest, CancellationToken, Task<(int Status, string ContentType, string Body)>> answer) =>
        _server = LoopbackHttpServer.Start(async (context, cancellationToken) =>
        {
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var request = new RecordedRequest(context.Request.HttpMethod, context.Request.RawUrl!, new(context.Request.Headers), await reader.ReadToEndAsync(cancellationToken));
            _requests.Enqueue(request);
            var (status, type, body) = await answer(request, cancellationToken);
            context.Response.StatusCode = status;
            if (status is >= 300 and < 400)
            {
                context.Response.RedirectLocation = body;
                context.Response.Close();
                return;
            }

            await LoopbackHttpServer.AnswerAsync(context, type, Encoding.UTF8.GetBytes(body));
        });

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public string Url(string path) => new Uri(_server.BaseAddress, path).ToString();

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
