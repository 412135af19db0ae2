using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tributary.Testing;
using Tributary.WebSockets;

namespace Tributary.Client.Tests;

/// <summary>MCP over WebSocket at /ws: the SDK client and Tributary.Client through the custom transport, and its faults.</summary>
public sealed class WebSocketTests
{
    [Fact]
    public async Task The_client_library_works_over_websocket_with_an_api_key_and_follows_a_topic()
    {
        await using var server = new ClientServer();
        await server.InitializeAsync();
        var key = server.CreateKey("ws");
        var options = server.Options(key) with { Transport = TributaryTransport.WebSocket, Endpoint = WebSocketUri(server) };
        await using var client = await TributaryClient.ConnectAsync(options);
        Assert.Equal("shop", Assert.Single((await client.ListSourcesAsync()).Sources).Name);
        Assert.Equal(60, (await client.QueryAsync("shop", "SELECT id FROM orders WHERE id <= 60", maxRows: 25).ToListAsync()).Count);

        var start = (await client.CallToolAsync("read_events", new Dictionary<string, JsonElement> { ["topic"] = JsonElement.Parse("\"orders\""), ["limit"] = JsonElement.Parse("1") })).GetProperty("cursor").GetInt64();
        await client.PublishAsync("orders", "order.paid", JsonElement.Parse("""{"id":7}"""));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var e in client.SubscribeAsync("orders", after: start, cancellationToken: timeout.Token))
        {
            Assert.Equal("order.paid", e.Type);
            Assert.Equal(7, e.Data.GetProperty("id").GetInt32());
            break;
        }

        // Without the key, the handshake is refused with 401 and the client says so.
        await Assert.ThrowsAsync<TributaryAuthenticationException>(() => TributaryClient.ConnectAsync(options with { ApiKey = null }));
    }

    [Fact]
    public async Task A_legacy_subscription_over_websocket_is_notified_and_freed_when_the_socket_closes()
    {
        await using var server = new ClientServer();
        await server.InitializeAsync();
        var key = server.CreateKey("ws-legacy");
        var updates = System.Threading.Channels.Channel.CreateUnbounded<string>();
        var client = await McpClient.CreateAsync(
            new WebSocketClientTransport(WebSocketUri(server), new Dictionary<string, string> { ["X-API-Key"] = key }),
            new McpClientOptions { ProtocolVersion = "2025-11-25" });
        await client.SubscribeToResourceAsync("tributary://topics/orders", (update, _) => { updates.Writer.TryWrite(update.Uri); return default; });

        await using (var publisher = await TributaryClient.ConnectAsync(server.Options(key)))
        {
            await publisher.PublishAsync("orders", "order.created", JsonElement.Parse("{}"));
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Assert.Equal("tributary://topics/orders", await updates.Reader.ReadAsync(timeout.Token));
        await client.DisposeAsync();
    }

    [Fact]
    public async Task Plain_requests_wrong_subprotocols_garbage_and_oversized_messages_get_clear_answers()
    {
        await using var server = new ClientServer();
        await server.InitializeAsync();
        var key = server.CreateKey("ws-faults");

        using var http = new HttpClient();
        using var plain = new HttpRequestMessage(HttpMethod.Get, new Uri(server.BaseAddress, "/ws"));
        plain.Headers.Add("X-API-Key", key);
        using var plainResponse = await http.SendAsync(plain);
        Assert.Equal(HttpStatusCode.BadRequest, plainResponse.StatusCode);
        Assert.Contains("WebSocket", await plainResponse.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using (var wrong = new ClientWebSocket())
        {
            wrong.Options.AddSubProtocol("graphql-ws");
            wrong.Options.SetRequestHeader("X-API-Key", key);
            wrong.Options.CollectHttpResponseDetails = true;
            await Assert.ThrowsAsync<WebSocketException>(() => wrong.ConnectAsync(WebSocketUri(server), CancellationToken.None));
            Assert.Equal(HttpStatusCode.BadRequest, wrong.HttpStatusCode);
        }

        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(WebSocketTransport.SubProtocol);
        socket.Options.SetRequestHeader("X-API-Key", key);
        await socket.ConnectAsync(WebSocketUri(server), CancellationToken.None);
        await socket.SendAsync(Encoding.UTF8.GetBytes("this is not JSON"), WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[64 * 1024];
        var answer = await socket.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Contains("-32700", Encoding.UTF8.GetString(buffer, 0, answer.Count), StringComparison.Ordinal);

        // A message over the server's limit (max_request_bytes, 1 MiB) closes the socket with 1009.
        var huge = Encoding.UTF8.GetBytes("{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":{\"pad\":\"" + new string('a', 2 * 1024 * 1024) + "\"}}");
        await socket.SendAsync(huge, WebSocketMessageType.Text, true, CancellationToken.None);
        var closed = await socket.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal(WebSocketMessageType.Close, closed.MessageType);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, socket.CloseStatus);
    }

    [Fact]
    public async Task A_socket_closed_mid_message_ends_the_session_with_a_clear_error()
    {
        await using var server = new ClientServer();
        await server.InitializeAsync();
        var key = server.CreateKey("ws-abort");
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(WebSocketTransport.SubProtocol);
        socket.Options.SetRequestHeader("X-API-Key", key);
        await socket.ConnectAsync(WebSocketUri(server), CancellationToken.None);
        await socket.SendAsync(Encoding.UTF8.GetBytes("{\"jsonrpc\":\"2.0\",\"id\":1,"), WebSocketMessageType.Text, endOfMessage: false, CancellationToken.None);
        socket.Abort();

        // The server is unharmed: a new connection works.
        await using var client = await TributaryClient.ConnectAsync(server.Options(key) with { Transport = TributaryTransport.WebSocket, Endpoint = WebSocketUri(server) });
        Assert.Single((await client.ListSourcesAsync()).Sources);

        // A tool error over WebSocket is a tool error, not a connection failure.
        await Assert.ThrowsAsync<TributaryToolException>(() => client.CallToolAsync("query", new Dictionary<string, JsonElement> { ["source"] = JsonElement.Parse("\"nope\""), ["sql"] = JsonElement.Parse("\"SELECT 1\"") }));
    }

    /// <summary>
    /// A real SDK server over WebSocket whose tool never answers: the client's request times out, it ends with a clear
    /// connection error, and the server is told with <c>notifications/cancelled</c> (the handler's token fires while the
    /// connection is still open).
    /// </summary>
    [Fact]
    public async Task A_server_that_never_answers_is_told_the_abandoned_request_is_cancelled()
    {
        var cancelled = 0;
        var hang = McpServerTool.Create(
            async (CancellationToken token) =>
            {
                try
                {
                    await Task.Delay(Timeout.Infinite, token);
                }
                finally
                {
                    Interlocked.Increment(ref cancelled);
                }
            },
            new McpServerToolCreateOptions { Name = "hang" });
        await using var upstream = LoopbackHttpServer.Start(async (context, stop) =>
        {
            var accepted = await context.AcceptWebSocketAsync(WebSocketTransport.SubProtocol);
            await using var transport = new WebSocketTransport(accepted.WebSocket, "hanging server");
            await using var server = McpServer.Create(transport, new McpServerOptions { ToolCollection = [hang] });
            try
            {
                await server.RunAsync(stop);
            }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException)
            {
                // The client gave up on this connection.
            }
        });

        var options = new TributaryClientOptions
        {
            Transport = TributaryTransport.WebSocket,
            Endpoint = new Uri($"ws://127.0.0.1:{upstream.Port}/"),
            RequestTimeout = TimeSpan.FromSeconds(1),
            Retry = new RetryPolicy { Attempts = 1 },
        };
        await using var client = await TributaryClient.ConnectAsync(options);
        var error = await Assert.ThrowsAsync<TributaryConnectionException>(() => client.CallToolAsync("hang"));
        Assert.Contains("did not answer after 1 tries", error.Message, StringComparison.Ordinal);

        // The connection is still open: only the notification can have ended the handler.
        for (var attempt = 0; attempt < 200 && Volatile.Read(ref cancelled) == 0; attempt++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(1, Volatile.Read(ref cancelled));
    }

    /// <summary>A server that closes the socket half-way through its answer: a clear connection error, not a hang.</summary>
    [Fact]
    public async Task A_server_that_closes_the_socket_mid_message_ends_in_a_connection_error()
    {
        await using var upstream = LoopbackHttpServer.Start(async (context, stop) =>
        {
            var accepted = await context.AcceptWebSocketAsync(WebSocketTransport.SubProtocol);
            var socket = accepted.WebSocket;
            var buffer = new byte[64 * 1024];
            await socket.ReceiveAsync(buffer, stop);
            await socket.SendAsync("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVer"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: false, stop);
            socket.Abort();
        });

        var options = new TributaryClientOptions
        {
            Transport = TributaryTransport.WebSocket,
            Endpoint = new Uri($"ws://127.0.0.1:{upstream.Port}/"),
            RequestTimeout = TimeSpan.FromSeconds(5),
            Retry = new RetryPolicy { Attempts = 2, FirstDelay = TimeSpan.FromMilliseconds(50) },
        };
        var error = await Assert.ThrowsAsync<TributaryConnectionException>(() => TributaryClient.ConnectAsync(options));
        Assert.Contains($"127.0.0.1:{upstream.Port}", error.Message, StringComparison.Ordinal);
    }

    private static Uri WebSocketUri(ClientServer server) => new($"ws://127.0.0.1:{server.Port}/ws");
}
