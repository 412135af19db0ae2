using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Tributary.Testing;

namespace Tributary.Server.Tests.Http;

public sealed class HttpSafetyTests(TributaryHttpServer server) : IClassFixture<TributaryHttpServer>
{
    private const string Initialize = """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}""";

    private async Task<(HttpStatusCode Status, string Body)> PostAsync(string body, Action<HttpRequestMessage>? configure = null)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, server.McpEndpoint);
        request.Content = new StringContent(body, Encoding.UTF8);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        configure?.Invoke(request);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Readiness_is_ok_when_every_source_answers()
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        using var ready = await http.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ready: 1 sources answer", await ready.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("http://evil.example")]
    [InlineData("http://localhost.evil.example")]
    [InlineData("http://localhost:1")]
    [InlineData("null")]
    public async Task A_foreign_origin_is_forbidden(string origin)
    {
        var (status, body) = await PostAsync(Initialize, r => r.Headers.Add("Origin", origin));
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("Origin", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("127.0.0.1.nip.io")]
    public async Task A_foreign_host_is_forbidden(string host)
    {
        var (status, body) = await PostAsync(Initialize, r => r.Headers.Host = $"{host}:{server.BaseAddress.Port}");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("Host", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    [InlineData("[::1]")]
    public async Task Loopback_origins_on_the_servers_port_are_allowed(string host)
    {
        var (status, _) = await PostAsync(Initialize, r =>
        {
            r.Headers.Add("Origin", $"http://{host}:{server.BaseAddress.Port}");
            r.Headers.Host = $"{host}:{server.BaseAddress.Port}";
        });
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task A_body_declared_over_one_mebibyte_is_413()
    {
        var body = Initialize.Replace("\"test\"", "\"" + new string('x', 2 * 1024 * 1024) + "\"", StringComparison.Ordinal);
        // The server answers from the declared length and closes: with Expect: 100-continue the client waits for that
        // answer before sending the body, rather than racing it into a broken pipe.
        var (status, text) = await PostAsync(body, request => request.Headers.ExpectContinue = true);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("over the limit of 1048576 bytes", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_chunked_body_growing_over_one_mebibyte_is_413()
    {
        // The server answers and closes while the client is still sending, so HttpClient would see a broken pipe before
        // the answer: write chunks by hand and stop as soon as the answer arrives.
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port);
        var stream = tcp.GetStream();
        var head = $"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{server.BaseAddress.Port}\r\nContent-Type: application/json\r\n" +
            "Accept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"version\":\"1\",\"name\":\"";
        var prefix = head[..(head.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)];
        var json = head[prefix.Length..];
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"{prefix}{json.Length:X}\r\n{json}\r\n"));
        var chunk = Encoding.ASCII.GetBytes($"{64 * 1024:X}\r\n{new string('x', 64 * 1024)}\r\n");
        for (var sent = 0; sent < 64 && tcp.Available == 0; sent++)
        {
            try
            {
                await stream.WriteAsync(chunk);
            }
            catch (IOException)
            {
                break;
            }

            await Task.Delay(5);
        }

        var response = new StringBuilder();
        var buffer = new byte[8192];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!response.ToString().Contains("max_request_bytes", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
            {
                break;
            }

            response.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        Assert.StartsWith("HTTP/1.1 413", response.ToString(), StringComparison.Ordinal);
        Assert.Contains("over the limit of 1048576 bytes", response.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":1,""", -32600)]
    [InlineData("""[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]""", -32600)]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", -32000)]
    public async Task Malformed_and_unsupported_messages_get_json_rpc_errors(string body, int code)
    {
        var (status, text) = await PostAsync(body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(code, JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Unknown_methods_are_method_not_found()
    {
        using var http = new HttpClient();
        using var init = new HttpRequestMessage(HttpMethod.Post, server.McpEndpoint) { Content = new StringContent(Initialize, Encoding.UTF8, "application/json") };
        init.Headers.Accept.ParseAdd("application/json");
        init.Headers.Accept.ParseAdd("text/event-stream");
        using var initialized = await http.SendAsync(init);
        var session = initialized.Headers.GetValues("Mcp-Session-Id").Single();

        var (unknownStatus, unknown) = await PostAsync("""{"jsonrpc":"2.0","id":2,"method":"tables/drop","params":{}}""", r =>
        {
            r.Headers.Add("Mcp-Session-Id", session);
            r.Headers.Add("MCP-Protocol-Version", "2025-11-25");
        });

        Assert.Equal(HttpStatusCode.OK, unknownStatus);
        Assert.Contains("\"code\":-32601", unknown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_is_open()
    {
        using var http = new HttpClient();
        Assert.Equal("ok", await http.GetStringAsync(new Uri(server.BaseAddress, "/healthz")));
    }
}
