using System.Text.Json;
using Tributary.Core.Configuration;
using Tributary.Server.Tests.Mcp;
using Tributary.Testing;

namespace Tributary.Server.Tests.Topics;

/// <summary>Tributary over HTTP with two topics in its own data directory.</summary>
public sealed class TopicsServer : TributaryHttpServer
{
    /// <summary>The secret that signs webhooks to the orders topic.</summary>
    public const string WebhookSecret = "test-webhook-secret-0123456789abcdef-0123456789";

    protected override async Task<TributaryConfig> CreateConfigAsync() => await base.CreateConfigAsync() with
    {
        Topics = [new TopicConfig { Name = "orders", Description = "Order activity", WebhookSecret = WebhookSecret }, new TopicConfig { Name = "logs", Description = "Application logs" }],
    };
}

public sealed class EventToolsTests(TopicsServer server) : IClassFixture<TopicsServer>
{
    [Fact]
    public async Task A_published_event_is_read_after_the_cursor_exactly_once()
    {
        await using var client = await server.ConnectAsync();
        var start = (await client.CallOkAsync("read_events", new() { ["topic"] = "orders", ["limit"] = 1 })).GetProperty("cursor").GetInt64();
        var published = await client.CallOkAsync("publish_event", new()
        {
            ["topic"] = "orders", ["type"] = "order.flagged", ["data"] = new { order_id = 42, message = "manual review" }, ["severity"] = "warning", ["trace_id"] = "trace-1",
        });
        var sequence = published.GetProperty("sequence").GetInt64();
        Assert.True(sequence > start);

        var read = await client.CallOkAsync("read_events", new() { ["topic"] = "orders", ["after"] = start });
        var e = Assert.Single(read.GetProperty("events").EnumerateArray().ToList());
        Assert.Equal(sequence, e.GetProperty("seq").GetInt64());
        Assert.Equal("order.flagged", e.GetProperty("type").GetString());
        Assert.Equal("warning", e.GetProperty("severity").GetString());
        Assert.Equal(42, e.GetProperty("data").GetProperty("order_id").GetInt32());
        Assert.Equal("trace-1", e.GetProperty("trace_id").GetString());
        Assert.Equal(sequence, read.GetProperty("cursor").GetInt64());

        var again = await client.CallOkAsync("read_events", new() { ["topic"] = "orders", ["after"] = sequence });
        Assert.Equal(0, again.GetProperty("events").GetArrayLength());
        Assert.Equal(sequence, again.GetProperty("cursor").GetInt64());

        var resource = await client.ReadResourceAsync("tributary://topics/orders");
        var text = Assert.IsType<ModelContextProtocol.Protocol.TextResourceContents>(Assert.Single(resource.Contents)).Text;
        Assert.Equal(sequence, JsonDocument.Parse(text).RootElement.GetProperty("cursor").GetInt64());
    }

    [Fact]
    public async Task A_waiting_read_wakes_on_publish_and_skips_what_its_filter_drops()
    {
        await using var reader = await server.ConnectAsync();
        await using var writer = await server.ConnectAsync();
        var cursor = (await reader.CallOkAsync("read_events", new() { ["topic"] = "logs", ["limit"] = 1 })).GetProperty("cursor").GetInt64();

        var waiting = reader.CallOkAsync("read_events", new()
        {
            ["topic"] = "logs", ["after"] = cursor, ["wait_ms"] = 30_000, ["filter"] = new { min_severity = "error" },
        });
        await writer.CallOkAsync("publish_event", new() { ["topic"] = "logs", ["type"] = "line", ["data"] = new { message = "fine" } });
        await writer.CallOkAsync("publish_event", new() { ["topic"] = "logs", ["type"] = "line", ["data"] = new { message = "disk full" }, ["severity"] = "error" });

        var woke = await waiting;
        var e = Assert.Single(woke.GetProperty("events").EnumerateArray().ToList());
        Assert.Equal("disk full", e.GetProperty("data").GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_wait_with_nothing_new_returns_empty_with_the_same_cursor()
    {
        await using var client = await server.ConnectAsync();
        var cursor = (await client.CallOkAsync("read_events", new() { ["topic"] = "orders", ["limit"] = 1 })).GetProperty("cursor").GetInt64();
        var read = await client.CallOkAsync("read_events", new() { ["topic"] = "orders", ["after"] = cursor, ["wait_ms"] = 200, ["filter"] = new { types = new[] { "never" } } });
        Assert.Equal(0, read.GetProperty("events").GetArrayLength());
        Assert.True(read.GetProperty("cursor").GetInt64() >= cursor);
    }

    [Theory]
    [InlineData("read_events", """{"topic":"nope"}""", "unknown topic 'nope' (topics: orders, logs)")]
    [InlineData("read_events", """{"topic":"orders","after":"abc"}""", "'after' is not a cursor")]
    [InlineData("read_events", """{"topic":"orders","after":-1}""", "cursors are never negative")]
    [InlineData("read_events", """{"topic":"orders","after":999999999}""", "is ahead of the log")]
    [InlineData("read_events", """{"topic":"orders","filter":{"colour":"red"}}""", "filter.colour is not a filter")]
    [InlineData("read_events", """{"topic":"orders","filter":{"message":"(unclosed"}}""", "filter.message is not a valid regular expression")]
    [InlineData("read_events", """{"topic":"orders","wait_ms":600000}""", "'wait_ms' must be between 0 and 60000")]
    [InlineData("publish_event", """{"topic":"nope","type":"x","data":{}}""", "unknown topic 'nope'")]
    [InlineData("publish_event", """{"topic":"orders","type":"has space","data":{}}""", "'type' must be 1 to 100 letters")]
    [InlineData("publish_event", """{"topic":"orders","type":"x"}""", "'data' is required")]
    [InlineData("publish_event", """{"topic":"orders","type":"x","data":{},"severity":"loud"}""", "'severity' must be one of")]
    public async Task Bad_event_calls_are_tool_errors(string tool, string arguments, string expected)
    {
        await using var client = await server.ConnectAsync();
        var message = await client.CallErrorAsync(tool, JsonSerializer.Deserialize<Dictionary<string, object?>>(arguments)!);
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_catastrophic_message_filter_is_stopped_with_a_tool_error()
    {
        await using var client = await server.ConnectAsync();
        var cursor = (await client.CallOkAsync("read_events", new() { ["topic"] = "logs", ["limit"] = 1 })).GetProperty("cursor").GetInt64();
        await client.CallOkAsync("publish_event", new() { ["topic"] = "logs", ["type"] = "line", ["data"] = new { message = new string('a', 40) + "!" } });
        var message = await client.CallErrorAsync("read_events", new() { ["topic"] = "logs", ["after"] = cursor, ["filter"] = new { message = "^(a+)+$" } });
        Assert.Contains("was stopped", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Topics_are_listed_with_the_sources()
    {
        await using var client = await server.ConnectAsync();
        var listed = await client.CallOkAsync("list_sources");
        Assert.Equal(["orders", "logs"], listed.GetProperty("topics").EnumerateArray().Select(t => t.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Analyze_logs_embeds_the_recent_events_at_the_severity_asked()
    {
        await using var client = await server.ConnectAsync();
        await client.CallOkAsync("publish_event", new() { ["topic"] = "logs", ["type"] = "line", ["data"] = new { message = "routine heartbeat" } });
        await client.CallOkAsync("publish_event", new() { ["topic"] = "logs", ["type"] = "line", ["data"] = new { message = "payment gateway timeout" }, ["severity"] = "error" });

        var prompt = await client.GetPromptAsync("analyze_logs", new Dictionary<string, object?> { ["topic"] = "logs", ["severity"] = "error", ["since"] = "1h" });
        var text = Assert.IsType<ModelContextProtocol.Protocol.TextContentBlock>(Assert.Single(prompt.Messages).Content).Text;
        Assert.Contains("payment gateway timeout", text, StringComparison.Ordinal);
        Assert.DoesNotContain("routine heartbeat", text, StringComparison.Ordinal);

        var bad = await Assert.ThrowsAsync<ModelContextProtocol.McpProtocolException>(() => client.GetPromptAsync("analyze_logs", new Dictionary<string, object?> { ["topic"] = "nope" }).AsTask());
        Assert.Contains("unknown topic 'nope'", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Topic_names_complete_and_the_instructions_say_how_to_follow_a_topic()
    {
        await using var client = await server.ConnectAsync();
        var completion = await client.CompleteAsync(new ModelContextProtocol.Protocol.ResourceTemplateReference { Uri = "tributary://topics/{topic}" }, "topic", "or");
        Assert.Equal(["orders"], completion.Completion.Values);
        Assert.Contains("read_events {topic, after: cursor, wait_ms}", client.ServerInstructions, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_topic_resource_takes_filters_in_its_query()
    {
        await using var client = await server.ConnectAsync();
        var cursor = (await client.CallOkAsync("read_events", new() { ["topic"] = "logs", ["limit"] = 1 })).GetProperty("cursor").GetInt64();
        await client.CallOkAsync("publish_event", new() { ["topic"] = "logs", ["type"] = "audit", ["data"] = new { message = "kept" }, ["severity"] = "error" });
        await client.CallOkAsync("publish_event", new() { ["topic"] = "logs", ["type"] = "audit", ["data"] = new { message = "too mild" } });
        await client.CallOkAsync("publish_event", new() { ["topic"] = "logs", ["type"] = "other", ["data"] = new { message = "other type" }, ["severity"] = "error" });

        var resource = await client.ReadResourceAsync($"tributary://topics/logs?types=audit&min_severity=error&after={cursor}");
        var text = Assert.IsType<ModelContextProtocol.Protocol.TextResourceContents>(Assert.Single(resource.Contents)).Text;
        var events = JsonDocument.Parse(text).RootElement.GetProperty("events").EnumerateArray().ToList();
        Assert.Equal("kept", Assert.Single(events).GetProperty("data").GetProperty("message").GetString());

        // A message regex and data field equality, URL-encoded ('&' inside a value stays part of it); the cursor moves past what they drop.
        await client.CallOkAsync("publish_event", new() { ["topic"] = "logs", ["type"] = "audit", ["data"] = new { message = "a&b refund", shop = new { id = 7 } } });
        var last = (await client.CallOkAsync("publish_event", new() { ["topic"] = "logs", ["type"] = "audit", ["data"] = new { message = "a&b refund", shop = new { id = 8 } } })).GetProperty("sequence").GetInt64();
        var fields = Uri.EscapeDataString("""{"shop.id":7}""");
        var matched = JsonDocument.Parse(Assert.IsType<ModelContextProtocol.Protocol.TextResourceContents>(Assert.Single(
            (await client.ReadResourceAsync($"tributary://topics/logs?message={Uri.EscapeDataString("^a&b")}&fields={fields}&after={cursor}")).Contents)).Text).RootElement;
        Assert.Equal(7, Assert.Single(matched.GetProperty("events").EnumerateArray()).GetProperty("data").GetProperty("shop").GetProperty("id").GetInt32());
        Assert.Equal(last, matched.GetProperty("cursor").GetInt64());

        foreach (var (query, named) in new[] { ("colour=red", "colour"), ("min_severity=loud", "min_severity"), ("after=soon", "after"), ("limit=0", "limit"), ("fields=%5B1%5D", "fields"), ("message=(", "message"), ($"after={last + 1000}", "ahead of the log") })
        {
            var error = await Assert.ThrowsAsync<ModelContextProtocol.McpProtocolException>(() => client.ReadResourceAsync($"tributary://topics/logs?{query}").AsTask());
            Assert.Contains(named, error.Message, StringComparison.Ordinal);
        }
    }
}
