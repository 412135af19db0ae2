using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tributary.Server.Tests.Mcp;

namespace Tributary.Server.Tests.Topics;

public sealed class WebhookTests(TopicsServer server) : IClassFixture<TopicsServer>
{
    private const string Body = """{"order_id":77,"message":"payment captured"}""";

    [Fact]
    public async Task A_signed_webhook_becomes_an_event_and_a_replay_is_refused()
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var request = Request(Body, Sign(now, Body, TopicsServer.WebhookSecret));
        request.Headers.Add("X-Tributary-Event-Type", "payment.captured");
        var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var sequence = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("sequence").GetInt64();

        await using var client = await server.ConnectAsync();
        var read = await client.CallOkAsync("read_events", new() { ["topic"] = "orders", ["after"] = sequence - 1 });
        var e = read.GetProperty("events")[0];
        Assert.Equal(sequence, e.GetProperty("seq").GetInt64());
        Assert.Equal("payment.captured", e.GetProperty("type").GetString());
        Assert.Equal("webhook", e.GetProperty("source").GetString());
        Assert.Equal(77, e.GetProperty("data").GetProperty("order_id").GetInt32());

        var replay = await http.SendAsync(Request(Body, Sign(now, Body, TopicsServer.WebhookSecret)));
        Assert.Equal(HttpStatusCode.Unauthorized, replay.StatusCode);
        Assert.Contains("already used", await replay.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(sequence, await LastAsync());
    }

    [Theory]
    [InlineData("missing", 401, "missing X-Tributary-Signature")]
    [InlineData("wrong secret", 401, "not valid")]
    [InlineData("tampered body", 401, "not valid")]
    [InlineData("expired", 401, "more than 5 minutes")]
    [InlineData("future", 401, "more than 5 minutes")]
    [InlineData("malformed", 401, "malformed")]
    [InlineData("not json", 400, "not JSON")]
    [InlineData("unknown topic", 404, "takes webhooks")]
    [InlineData("topic without secret", 404, "takes webhooks")]
    public async Task Bad_webhooks_are_refused_and_append_nothing(string fault, int status, string message)
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var before = await LastAsync();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var body = fault == "not json" ? "{not json" : Body;
        var signature = fault switch
        {
            "missing" => null,
            "wrong secret" => Sign(now, body, "another-secret-that-is-long-enough-000000"),
            "tampered body" => Sign(now, body.Replace("77", "78", StringComparison.Ordinal), TopicsServer.WebhookSecret),
            "expired" => Sign(now - 600, body, TopicsServer.WebhookSecret),
            "future" => Sign(now + 600, body, TopicsServer.WebhookSecret),
            "malformed" => "v1=abc",
            _ => Sign(now, body, TopicsServer.WebhookSecret),
        };
        var topic = fault switch { "unknown topic" => "nope", "topic without secret" => "logs", _ => "orders" };
        var response = await http.SendAsync(Request(body, signature, topic));
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Contains(message, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(before, await LastAsync());
    }

    [Fact]
    public async Task A_ten_megabyte_webhook_gets_413()
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var body = "{\"blob\":\"" + new string('x', 10 * 1024 * 1024) + "\"}";
        using var request = Request(body, Sign(DateTimeOffset.UtcNow.ToUnixTimeSeconds(), body, TopicsServer.WebhookSecret));
        // With Expect: 100-continue the client waits for the answer to the headers, which is 413 from Content-Length alone.
        request.Headers.ExpectContinue = true;
        var before = await LastAsync();
        var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(before, await LastAsync());
    }

    private async Task<long> LastAsync()
    {
        await using var client = await server.ConnectAsync();
        return (await client.CallOkAsync("read_events", new() { ["topic"] = "orders", ["limit"] = 1 })).GetProperty("cursor").GetInt64();
    }

    private static HttpRequestMessage Request(string body, string? signature, string topic = "orders")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/hooks/{topic}") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (signature is not null)
        {
            request.Headers.Add("X-Tributary-Signature", signature);
        }

        return request;
    }

    private static string Sign(long time, string body, string secret) =>
        $"t={time},v1={Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{time}.{body}")))}";
}
