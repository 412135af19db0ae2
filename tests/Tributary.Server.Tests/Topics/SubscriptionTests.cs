using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Tributary.Server.Mcp;
using Tributary.Server.Tests.Mcp;

namespace Tributary.Server.Tests.Topics;

public sealed class SubscriptionTests(TopicsServer server) : IClassFixture<TopicsServer>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_legacy_session_subscribes_and_is_told_of_a_publish_then_reads_it_from_its_cursor()
    {
        await using var client = await server.ConnectAsync(protocolVersion: "2025-11-25");
        var cursor = (await client.CallOkAsync("read_events", new() { ["topic"] = "orders", ["limit"] = 1 })).GetProperty("cursor").GetInt64();
        var updates = Channel.CreateUnbounded<string>();
        await using var subscription = await client.SubscribeToResourceAsync("tributary://topics/orders", (update, _) =>
        {
            updates.Writer.TryWrite(update.Uri);
            return default;
        });

        await using var publisher = await server.ConnectAsync();
        await publisher.CallOkAsync("publish_event", new() { ["topic"] = "orders", ["type"] = "order.created", ["data"] = new { id = 1 } });

        using var timeout = new CancellationTokenSource(Patience);
        Assert.Equal("tributary://topics/orders", await updates.Reader.ReadAsync(timeout.Token));
        var read = await client.CallOkAsync("read_events", new() { ["topic"] = "orders", ["after"] = cursor });
        Assert.Equal("order.created", read.GetProperty("events")[0].GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_2026_listener_gets_the_acknowledgement_then_tagged_updates_and_is_freed_when_it_leaves()
    {
        var subscriptions = server.Services.GetRequiredService<TopicSubscriptions>();
        var before = subscriptions.Active;
        await using var client = await server.ConnectAsync();
        var acknowledgements = Channel.CreateUnbounded<JsonRpcNotification>();
        var updates = Channel.CreateUnbounded<JsonRpcNotification>();
        await using var ackHandler = client.RegisterNotificationHandler(NotificationMethods.SubscriptionsAcknowledgedNotification, (n, _) => { acknowledgements.Writer.TryWrite(n); return default; });
        await using var updateHandler = client.RegisterNotificationHandler(NotificationMethods.ResourceUpdatedNotification, (n, _) => { updates.Writer.TryWrite(n); return default; });

        using var leave = new CancellationTokenSource();
        var listen = client.SendRequestAsync(Listen("tributary://topics/logs"), leave.Token);
        using var timeout = new CancellationTokenSource(Patience);
        var ack = await acknowledgements.Reader.ReadAsync(timeout.Token);
        var id = SubscriptionId(ack);
        Assert.NotNull(id);
        Assert.Equal("tributary://topics/logs", ((JsonObject)ack.Params!)["notifications"]!["resourceSubscriptions"]![0]!.GetValue<string>());

        await using var publisher = await server.ConnectAsync();
        for (var i = 0; i < 5; i++)
        {
            await publisher.CallOkAsync("publish_event", new() { ["topic"] = "logs", ["type"] = "line", ["data"] = new { message = $"burst {i}" } });
        }

        var update = await updates.Reader.ReadAsync(timeout.Token);
        Assert.Equal(id, SubscriptionId(update));
        Assert.Equal("tributary://topics/logs", ((JsonObject)update.Params!)["uri"]!.GetValue<string>());
        Assert.True(subscriptions.Active > before);

        // The client vanishes mid-stream: its subscription is freed.
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => listen);
        for (var attempt = 0; attempt < 100 && subscriptions.Active > before; attempt++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(before, subscriptions.Active);
    }

    [Fact]
    public async Task Subscribing_to_what_does_not_exist_or_too_much_is_refused()
    {
        await using var legacy = await server.ConnectAsync(protocolVersion: "2025-11-25");
        var unknown = await Assert.ThrowsAsync<McpProtocolException>(() => legacy.SubscribeToResourceAsync(new SubscribeRequestParams { Uri = "tributary://topics/nope" }));
        Assert.Equal(McpErrorCode.ResourceNotFound, unknown.ErrorCode);
        Assert.Contains("unknown topic 'nope'", unknown.Message, StringComparison.Ordinal);
        var other = await Assert.ThrowsAsync<McpProtocolException>(() => legacy.SubscribeToResourceAsync(new SubscribeRequestParams { Uri = "tributary://sources" }));
        Assert.Equal(McpErrorCode.ResourceNotFound, other.ErrorCode);

        await using var modern = await server.ConnectAsync();
        var tooMany = await Assert.ThrowsAsync<McpProtocolException>(() =>
            modern.SendRequestAsync(Listen(Enumerable.Range(0, 10_000).Select(_ => "tributary://topics/orders").ToArray())));
        Assert.Contains("at most 100 resources", tooMany.Message, StringComparison.Ordinal);
        var missing = await Assert.ThrowsAsync<McpProtocolException>(() => modern.SendRequestAsync(Listen("tributary://topics/nope")));
        Assert.Equal(McpErrorCode.ResourceNotFound, missing.ErrorCode);
    }

    private static JsonRpcRequest Listen(params string[] uris) => new()
    {
        Method = RequestMethods.SubscriptionsListen,
        Params = new JsonObject { ["notifications"] = new JsonObject { ["resourceSubscriptions"] = new JsonArray(uris.Select(u => (JsonNode?)JsonValue.Create(u)).ToArray()) } },
    };

    private static string? SubscriptionId(JsonRpcNotification notification) =>
        ((notification.Params as JsonObject)?["_meta"] as JsonObject)?[MetaKeys.SubscriptionId]?.ToJsonString();
}
