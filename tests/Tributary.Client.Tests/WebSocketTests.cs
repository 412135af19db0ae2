using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
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

    private static Uri WebSocketUri(ClientServer server) => new($"ws://127.0.0.1:{server.Port}/ws");
}
