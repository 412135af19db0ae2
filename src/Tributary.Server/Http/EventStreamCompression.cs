using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace Tributary.Server.Http;

/// <summary>
/// Lets the answers to MCP POST requests be compressed. The SDK answers them as an event stream marked
/// <c>Content-Encoding: identity</c>, which keeps every compressor away; for a client that accepts Brotli or gzip this
/// drops that mark on the first write, so the response compression below compresses the stream. Each event is still
/// flushed as it is written (the compressor flushes with it), so streaming is not held back.
/// </summary>
internal sealed class EventStreamCompression(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (!HttpMethods.IsPost(context.Request.Method)
            || !context.Request.Path.StartsWithSegments(TributaryHttpExtensions.McpPath, StringComparison.Ordinal)
            || !AcceptsCompression(context.Request.Headers.AcceptEncoding))
        {
            await next(context);
            return;
        }

        var original = context.Features.Get<IHttpResponseBodyFeature>()!;
        var response = context.Response;
        var body = new StreamResponseBodyFeature(new FirstWrite(original.Stream, () =>
        {
            if (response.ContentType?.StartsWith("text/event-stream", StringComparison.Ordinal) == true && response.Headers.ContentEncoding == "identity")
            {
                response.Headers.Remove(HeaderNames.ContentEncoding);
            }
        }), original);
        context.Features.Set<IHttpResponseBodyFeature>(body);
        try
        {
            await next(context);
            await body.CompleteAsync();
        }
        finally
        {
            context.Features.Set(original);
        }
    }

    private static bool AcceptsCompression(Microsoft.Extensions.Primitives.StringValues acceptEncoding)
    {
        foreach (var value in acceptEncoding)
        {
            if (value is not null && (value.Contains("br", StringComparison.OrdinalIgnoreCase) || value.Contains("gzip", StringComparison.OrdinalIgnoreCase)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Passes everything to <paramref name="inner"/>, running <paramref name="before"/> once before the first byte or flush.</summary>
    private sealed class FirstWrite(Stream inner, Action before) : Stream
    {
        private Action? _before = before;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count)
        {
            Once();
            inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Once();
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
            Once();
            inner.Flush();
        }

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Once();
            return inner.FlushAsync(cancellationToken);
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        private void Once() => Interlocked.Exchange(ref _before, null)?.Invoke();
    }
}
