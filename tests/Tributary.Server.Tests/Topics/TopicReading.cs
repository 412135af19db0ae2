using System.Text.Json;
using ModelContextProtocol.Client;
using Tributary.Server.Tests.Mcp;

namespace Tributary.Server.Tests.Topics;

/// <summary>Reads topics through <c>read_events</c> and waits for conditions, with generous bounds instead of timing assertions.</summary>
internal static class TopicReading
{
    /// <summary>Every event of <paramref name="topic"/>, oldest first (read a page of 1,000 at a time).</summary>
    public static async Task<List<JsonElement>> ReadAllAsync(McpClient client, string topic)
    {
        var events = new List<JsonElement>();
        while (true)
        {
            var after = events.Count > 0 ? events[^1].GetProperty("seq").GetInt64() : 0;
            var read = await client.CallOkAsync("read_events", new() { ["topic"] = topic, ["after"] = after, ["limit"] = 1000 });
            var page = read.GetProperty("events").EnumerateArray().ToList();
            events.AddRange(page);
            if (page.Count < 1000)
            {
                return events;
            }
        }
    }

    /// <summary>Waits until <paramref name="topic"/> holds at least <paramref name="count"/> events, then returns them all (fewer when the wait runs out).</summary>
    public static async Task<List<JsonElement>> WaitForEventsAsync(McpClient client, string topic, int count, int seconds = 30)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(seconds);
        var events = await ReadAllAsync(client, topic);
        while (events.Count < count && DateTimeOffset.UtcNow < deadline)
        {
            // Long-poll from the last event: returns as soon as the topic moves.
            var cursor = events.Count > 0 ? events[^1].GetProperty("seq").GetInt64() : 0;
            await client.CallOkAsync("read_events", new() { ["topic"] = topic, ["after"] = cursor, ["wait_ms"] = 1000 });
            events = await ReadAllAsync(client, topic);
        }

        return events;
    }

    /// <summary>
    /// Makes one more change (<paramref name="marker"/>) and waits for its event, then returns all events: everything captured
    /// before the marker is in the topic by then, so a count taken now is exact and not a guess about timing.
    /// </summary>
    public static async Task<List<JsonElement>> SettleAsync(McpClient client, string topic, Func<Task> marker, Func<JsonElement, bool> isMarker, int seconds = 30)
    {
        await marker();
        var deadline = DateTimeOffset.UtcNow.AddSeconds(seconds);
        var events = await ReadAllAsync(client, topic);
        while (!events.Any(isMarker) && DateTimeOffset.UtcNow < deadline)
        {
            await client.CallOkAsync("read_events", new() { ["topic"] = topic, ["after"] = events.Count > 0 ? events[^1].GetProperty("seq").GetInt64() : 0, ["wait_ms"] = 1000 });
            events = await ReadAllAsync(client, topic);
        }

        Assert.True(events.Any(isMarker), $"the marker change never arrived; the topic holds {events.Count} events");
        return events;
    }

    /// <summary>Waits until <paramref name="condition"/> holds; fails naming <paramref name="what"/> when it does not within the bound.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, int seconds = 30)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"waited {seconds} s for {what}");
            await Task.Delay(100);
        }
    }

    /// <summary>The changed row of a capture event.</summary>
    public static JsonElement Row(JsonElement e) => e.GetProperty("data").GetProperty("row");

    /// <summary>The event's type.</summary>
    public static string Type(JsonElement e) => e.GetProperty("type").GetString()!;
}
