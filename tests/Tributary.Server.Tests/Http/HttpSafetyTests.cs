using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Tributary.Testing;

namespace Tributary.Server.Tests.Http;

public sealed class HttpSafetyTests(TributaryHttpServer server) : IClassFixture<TributaryHttpServer>
{
    private const string Initialize = """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}""";

    private async Task<(HttpStatusCode Status, string Body)> PostAsync(string body, Action<HttpRequestMessage>? configure = null, bool chunked = false)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, server.McpEndpoint);
        request.Content = chunked ? new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body))) : new StringContent(body, Encoding.UTF8);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        configure?.Invoke(request);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
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

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_body_over_one_mebibyte_is_413(bool chunked)
    {
        var body = Initialize.Replace("\"test\"", "\"" + new string('x', 2 * 1024 * 1024) + "\"", StringComparison.Ordinal);
        var (status, text) = await PostAsync(body, chunked: chunked);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("over the limit of 1048576 bytes", text, StringComparison.Ordinal);
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
