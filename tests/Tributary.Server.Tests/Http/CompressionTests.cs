using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Tributary.Server.Tests.Mcp;
using Tributary.Server.Tests.Topics;
using Tributary.Testing;

namespace Tributary.Server.Tests.Http;

/// <summary>MCP answers are compressed for clients that accept it (Brotli or gzip), and event streams still deliver each event as it happens.</summary>
public sealed class CompressionTests(TopicsServer server) : IClassFixture<TopicsServer>
{

    [Theory]
    [InlineData("br")]
    [InlineData("gzip")]
    public async Task A_large_answer_is_compressed_when_the_client_accepts_it(string encoding)
    {
        var (plainEncoding, plain) = await PostAsync("identity");
        var (usedEncoding, compressed) = await PostAsync(encoding);
        Assert.Null(plainEncoding is "identity" ? null : plainEncoding);
        Assert.Equal(encoding, usedEncoding);

        var text = Encoding.UTF8.GetString(Decompress(encoding, compressed));
        Assert.StartsWith("event: message", text, StringComparison.Ordinal);
        Assert.Equal(WithoutTimings(Encoding.UTF8.GetString(plain)), WithoutTimings(text));
        Assert.True(compressed.Length * 3 < plain.Length, $"{encoding}: {compressed.Length} bytes from {plain.Length}");
    }

    [Fact]
    public async Task A_compressed_listen_stream_still_delivers_each_notification_while_it_is_open()
    {
        using var http = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.All });
        await using var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = server.McpEndpoint }, http));
        var acknowledged = new TaskCompletionSource();
        var updates = Channel.CreateUnbounded<string>();
        await using var ack = client.RegisterNotificationHandler(NotificationMethods.SubscriptionsAcknowledgedNotification, (_, _) => { acknowledged.TrySetResult(); return default; });
        await using var updated = client.RegisterNotificationHandler(NotificationMethods.ResourceUpdatedNotification, (n, _) => { updates.Writer.TryWrite(((JsonObject)n.Params!)["uri"]!.GetValue<string>()); return default; });
        using var leave = new CancellationTokenSource();
        var listen = client.SendRequestAsync(
            new JsonRpcRequest { Method = RequestMethods.SubscriptionsListen, Params = new JsonObject { ["notifications"] = new JsonObject { ["resourceSubscriptions"] = new JsonArray("tributary://topics/logs") } } },
            leave.Token);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await acknowledged.Task.WaitAsync(timeout.Token);

        await using var publisher = await server.ConnectAsync();
        await publisher.CallOkAsync("publish_event", new() { ["topic"] = "logs", ["type"] = "line", ["data"] = new { message = "compressed and live" } });
        Assert.Equal("tributary://topics/logs", await updates.Reader.ReadAsync(timeout.Token));
        Assert.False(listen.IsCompleted);
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => listen);
    }

    private async Task<(string? Encoding, byte[] Body)> PostAsync(string acceptEncoding)
    {
        using var http = new HttpClient();
        using var request = RawMcp.ToolCall(server.McpEndpoint, "query", """{"source":"shop","sql":"SELECT * FROM orders LIMIT 1000","max_rows":1000}""");
        request.Headers.AcceptEncoding.ParseAdd(acceptEncoding);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (response.Content.Headers.ContentEncoding.SingleOrDefault(), await response.Content.ReadAsByteArrayAsync());
    }

    /// <summary>The answer without its elapsed_ms, which differs from run to run.</summary>
    private static string WithoutTimings(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"elapsed_ms(\\u0022|"")?:[0-9.]+", "elapsed_ms:_");

    private static byte[] Decompress(string encoding, byte[] body)
    {
        using var input = new MemoryStream(body);
        using Stream decoder = encoding == "br" ? new BrotliStream(input, CompressionMode.Decompress) : new GZipStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        decoder.CopyTo(output);
        return output.ToArray();
    }
}
