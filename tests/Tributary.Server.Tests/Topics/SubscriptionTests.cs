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
        // No span is recorded for a notification, so none is stamped into it (NotificationSampler).
        Assert.Equal([MetaKeys.SubscriptionId], ((JsonObject)update.Params!)["_meta"]!.AsObject().Select(p => p.Key));
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

    [Fact]
    public async Task A_filtered_subscription_is_told_only_of_events_its_filter_keeps()
    {
        await using var client = await server.ConnectAsync();
        var updates = Channel.CreateUnbounded<(string Uri, int Published)>();
        var published = 0;
        await using var updateHandler = client.RegisterNotificationHandler(NotificationMethods.ResourceUpdatedNotification, (n, _) =>
        {
            updates.Writer.TryWrite((((JsonObject)n.Params!)["uri"]!.GetValue<string>(), Volatile.Read(ref published)));
            return default;
        });
        var acknowledged = new TaskCompletionSource();
        await using var ackHandler = client.RegisterNotificationHandler(NotificationMethods.SubscriptionsAcknowledgedNotification, (_, _) => { acknowledged.TrySetResult(); return default; });

        const string all = "tributary://topics/logs";
        const string errors = "tributary://topics/logs?min_severity=error&fields=%7B%22service%22%3A%22billing%22%7D";
        using var leave = new CancellationTokenSource();
        var listen = client.SendRequestAsync(Listen(all, errors), leave.Token);
        using var timeout = new CancellationTokenSource(Patience);
        await acknowledged.Task.WaitAsync(timeout.Token);

        await using var publisher = await server.ConnectAsync();
        // An info line and an error of another service: the unfiltered subscription is told, the filtered one is not.
        await publisher.CallOkAsync("publish_event", new() { ["topic"] = "logs", ["type"] = "line", ["data"] = new { service = "billing", message = "fine" } });
        await publisher.CallOkAsync("publish_event", new() { ["topic"] = "logs", ["type"] = "line", ["data"] = new { service = "search", message = "down" }, ["severity"] = "error" });
        Assert.Equal(all, (await updates.Reader.ReadAsync(timeout.Token)).Uri);

        // Now one it keeps.
        Volatile.Write(ref published, 1);
        await publisher.CallOkAsync("publish_event", new() { ["topic"] = "logs", ["type"] = "line", ["data"] = new { service = "billing", message = "card declined" }, ["severity"] = "error" });
        (string Uri, int Published) update;
        while ((update = await updates.Reader.ReadAsync(timeout.Token)).Uri != errors)
        {
        }

        Assert.Equal(1, update.Published);
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => listen);

        // A filter that is not one is refused before anything is granted.
        var bad = await Assert.ThrowsAsync<McpProtocolException>(() => client.SendRequestAsync(Listen("tributary://topics/logs?min_severity=loud")));
        Assert.Equal(McpErrorCode.InvalidParams, bad.ErrorCode);
        Assert.Contains("min_severity", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_legacy_session_that_ends_frees_its_subscriptions_without_waiting_for_an_event()
    {
        var subscriptions = server.Services.GetRequiredService<TopicSubscriptions>();
        var before = subscriptions.Active;
        var client = await server.ConnectAsync(protocolVersion: "2025-11-25");
        await client.SubscribeToResourceAsync(new SubscribeRequestParams { Uri = "tributary://topics/orders?types=never.published" });
        await client.SubscribeToResourceAsync(new SubscribeRequestParams { Uri = "tributary://topics/logs?types=never.published" });
        Assert.Equal(before + 2, subscriptions.Active);

        // The client leaves (its transport ends the session); nothing is published to either topic.
        await client.DisposeAsync();
        for (var attempt = 0; attempt < 200 && subscriptions.Active > before; attempt++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(before, subscriptions.Active);
    }

    [Fact]
    public async Task The_node_holds_at_most_10000_subscriptions_across_requests()
    {
        var subscriptions = server.Services.GetRequiredService<TopicSubscriptions>();
        var before = subscriptions.Active;
        await using var client = await server.ConnectAsync();
        var acknowledged = 0;
        await using var ackHandler = client.RegisterNotificationHandler(NotificationMethods.SubscriptionsAcknowledgedNotification, (_, _) => { Interlocked.Increment(ref acknowledged); return default; });
        using var leave = new CancellationTokenSource();
        var perRequest = TopicSubscriptions.MaxPerRequest;
        var requests = (TopicSubscriptions.MaxActive - before) / perRequest;
        var listens = Enumerable.Range(0, requests)
            .Select(r => client.SendRequestAsync(Listen(Enumerable.Range(0, perRequest).Select(i => $"tributary://topics/orders?source=r{r}-{i}").ToArray()), leave.Token))
            .ToList();
        for (var attempt = 0; attempt < 1200 && subscriptions.Active < before + (requests * perRequest); attempt++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(before + (requests * perRequest), subscriptions.Active);
        var over = await Assert.ThrowsAsync<McpProtocolException>(() =>
            client.SendRequestAsync(Listen(Enumerable.Range(0, perRequest).Select(i => $"tributary://topics/logs?source=over-{i}").ToArray())));
        Assert.Contains($"already holds {TopicSubscriptions.MaxActive} subscriptions", over.Message, StringComparison.Ordinal);
        Assert.Equal(before + (requests * perRequest), subscriptions.Active);

        await leave.CancelAsync();
        foreach (var listen in listens)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => listen);
        }

        for (var attempt = 0; attempt < 400 && subscriptions.Active > before; attempt++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(before, subscriptions.Active);
        Assert.True(Volatile.Read(ref acknowledged) >= requests);
    }

    [Fact]
    public async Task A_subscriber_that_stops_reading_holds_back_neither_ingest_nor_others_and_catches_up_from_its_cursor()
    {
        await using var reader = await server.ConnectAsync();
        var start = (await reader.CallOkAsync("read_events", new() { ["topic"] = "orders", ["limit"] = 1 })).GetProperty("cursor").GetInt64();

        // The stalled subscriber: a listen request whose response it does not read.
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, server.McpEndpoint)
        {
            Content = new StringContent("""
                {"jsonrpc":"2.0","id":"stalled","method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["tributary://topics/orders"]},
                 "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}
                """, System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("MCP-Protocol-Version", "2026-07-28");
        request.Headers.Add("Mcp-Method", "subscriptions/listen");
        using var stalled = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        stalled.EnsureSuccessStatusCode();

        // A subscriber that keeps up.
        var updates = Channel.CreateUnbounded<JsonRpcNotification>();
        await using var updateHandler = reader.RegisterNotificationHandler(NotificationMethods.ResourceUpdatedNotification, (n, _) => { updates.Writer.TryWrite(n); return default; });
        var acknowledged = new TaskCompletionSource();
        await using var ackHandler = reader.RegisterNotificationHandler(NotificationMethods.SubscriptionsAcknowledgedNotification, (_, _) => { acknowledged.TrySetResult(); return default; });
        using var leave = new CancellationTokenSource();
        var listen = reader.SendRequestAsync(Listen("tributary://topics/orders"), leave.Token);
        using var timeout = new CancellationTokenSource(Patience);
        await acknowledged.Task.WaitAsync(timeout.Token);

        // A burst of 300 events, 8 at a time: every publish completes while the stalled subscriber reads nothing.
        await using var publisher = await server.ConnectAsync();
        const int events = 300;
        await Parallel.ForEachAsync(Enumerable.Range(0, events), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = timeout.Token }, async (i, ct) =>
            await publisher.CallOkAsync("publish_event", new() { ["topic"] = "orders", ["type"] = "burst", ["data"] = new { i } }));

        // The subscriber that keeps up is told, and reads every event from its cursor.
        await updates.Reader.ReadAsync(timeout.Token);
        Assert.Equal(events, (await ReadAllAsync(reader, start, timeout.Token)).Count(e => e.GetProperty("type").GetString() == "burst"));

        // The stalled one reads at last: its acknowledgement and an update are there, and its cursor gives it every event once.
        using var body = new StreamReader(await stalled.Content.ReadAsStreamAsync(timeout.Token));
        var seen = new System.Text.StringBuilder();
        while (!seen.ToString().Contains("notifications/resources/updated", StringComparison.Ordinal))
        {
            seen.AppendLine(await body.ReadLineAsync(timeout.Token));
        }

        Assert.Contains("notifications/subscriptions/acknowledged", seen.ToString(), StringComparison.Ordinal);
        var caughtUp = await ReadAllAsync(reader, start, timeout.Token);
        Assert.Equal(Enumerable.Range(0, events), caughtUp.Where(e => e.GetProperty("type").GetString() == "burst").Select(e => e.GetProperty("data").GetProperty("i").GetInt32()).Order());
        Assert.Equal(caughtUp.Count, caughtUp.Select(e => e.GetProperty("seq").GetInt64()).Distinct().Count());
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => listen);
    }

    /// <summary>Every event of the orders topic after <paramref name="cursor"/>, page by page, as a reader following its cursor gets them.</summary>
    private static async Task<List<JsonElement>> ReadAllAsync(McpClient client, long cursor, CancellationToken cancellationToken)
    {
        var all = new List<JsonElement>();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var page = await client.CallOkAsync("read_events", new() { ["topic"] = "orders", ["after"] = cursor, ["limit"] = 100 });
            var events = page.GetProperty("events").EnumerateArray().ToList();
            all.AddRange(events);
            cursor = page.GetProperty("cursor").GetInt64();
            if (events.Count < 100)
            {
                return all;
            }
        }
    }

    private static JsonRpcRequest Listen(params string[] uris) => new()
    {
        Method = RequestMethods.SubscriptionsListen,
        Params = new JsonObject { ["notifications"] = new JsonObject { ["resourceSubscriptions"] = new JsonArray(uris.Select(u => (JsonNode?)JsonValue.Create(u)).ToArray()) } },
    };

    private static string? SubscriptionId(JsonRpcNotification notification) =>
        ((notification.Params as JsonObject)?["_meta"] as JsonObject)?[MetaKeys.SubscriptionId]?.ToJsonString();
}
