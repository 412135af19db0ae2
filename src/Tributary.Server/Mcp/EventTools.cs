using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Tributary.Core;
using Tributary.Core.Security;
using Tributary.Topics;

namespace Tributary.Server.Mcp;

/// <summary><c>publish_event</c>: appends an event to a topic; durable when it returns, with its sequence number.</summary>
internal sealed class PublishEventTool(TopicRegistry topics, IEventStore store) : TributaryTool(WriteTool(
    "publish_event",
    "Publish an event",
    "Appends an event {type, data, severity?} to a topic. It is durable when this returns, with its sequence number; readers of the topic (read_events, subscriptions) see it next.",
    """
    {"type":"object","required":["topic","type","data"],"additionalProperties":false,"properties":{
      "topic":{"type":"string","description":"Topic name, from list_sources"},
      "type":{"type":"string","maxLength":100,"pattern":"^[A-Za-z0-9_.:-]+$","description":"What happened, such as order.flagged"},
      "data":{"description":"The event's JSON payload (an object is usual; a 'message' string is what filters match)"},
      "severity":{"type":"string","enum":["debug","info","warning","error","critical"],"description":"Default info"},
      "trace_id":{"type":"string","maxLength":64,"description":"Links the event to a request or other events"}}}
    """,
    """
    {"type":"object","required":["topic","sequence","time"],"properties":{"topic":{"type":"string"},"sequence":{"type":"integer"},"time":{"type":"string"}}}
    """,
    destructive: false,
    idempotent: false))
{
    /// <inheritdoc />
    public override string? RequiredScope(IReadOnlyDictionary<string, JsonElement>? arguments) =>
        StringArgument(arguments, "topic") is { } topic ? Grants.Topic(topic, "publish") : null;

    /// <inheritdoc />
    public override bool IsVisibleTo(Grants grants) => grants.AllowsAny("topics", "publish");

    private protected override async ValueTask ExecuteAsync(ToolArguments arguments, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        var topic = topics.Get(arguments.RequiredString("topic")).Name;
        var newEvent = NewEvent.Create(topic, arguments.RequiredString("type"), arguments.Get("data"), arguments.String("severity"), arguments.String("trace_id"), "publish_event");
        var stored = await store.AppendAsync(newEvent, cancellationToken);
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("topic"u8, stored.Topic);
        json.WriteNumber("sequence"u8, stored.Sequence);
        json.WriteString("time"u8, TopicEvent.FormatTime(stored.Time));
        json.WriteEndObject();
    }

}

/// <summary>
/// <c>read_events</c>: a topic's events after a cursor, filtered; waits up to <c>wait_ms</c> for the next one when there is
/// none yet. The no-loss way to follow a topic for any client.
/// </summary>
internal sealed class ReadEventsTool(TopicRegistry topics, IEventStore store, IEventBus bus, Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime, Observability.TributaryMetrics metrics) : TributaryTool(ReadOnlyTool(
    "read_events",
    "Read a topic's events",
    "Returns a topic's events after 'after' (a cursor from an earlier read), oldest first, with the cursor to pass next time. Without 'after', returns the newest events. " +
    "When there is nothing new, waits up to 'wait_ms' (at most 60000) for the next event: call it in a loop with the returned cursor to follow a topic without missing anything. " +
    "'filter' keeps events by types, source, min_severity, a 'message' regular expression and data 'fields' equality.",
    """
    {"type":"object","required":["topic"],"additionalProperties":false,"properties":{
      "topic":{"type":"string","description":"Topic name, from list_sources"},
      "after":{"type":["integer","string"],"description":"The cursor from the previous read; leave out for the newest events"},
      "filter":{"type":"object","additionalProperties":false,"properties":{
        "types":{"type":"array","items":{"type":"string"}},
        "source":{"type":"string"},
        "min_severity":{"type":"string","enum":["debug","info","warning","error","critical"]},
        "message":{"type":"string","description":"Regular expression on data.message (else the data's JSON)"},
        "fields":{"type":"object","description":"Data fields (dotted paths) and the JSON values they must equal"}}},
      "limit":{"type":"integer","minimum":1,"maximum":1000,"description":"Most events returned (default 100)"},
      "wait_ms":{"type":"integer","minimum":0,"maximum":60000,"description":"How long to wait for a new event when there is none (default 0)"}}}
    """,
    """
    {"type":"object","required":["topic","events","cursor"],"properties":{"topic":{"type":"string"},
      "events":{"type":"array","items":{"type":"object","required":["seq","type","source","severity","time","data"],"properties":{
        "seq":{"type":"integer"},"type":{"type":"string"},"source":{"type":"string"},"severity":{"type":"string"},"time":{"type":"string"},"data":{},"trace_id":{"type":"string"}}}},
      "cursor":{"type":"integer"}}}
    """))
{
    /// <inheritdoc />
    public override string? RequiredScope(IReadOnlyDictionary<string, JsonElement>? arguments) =>
        StringArgument(arguments, "topic") is { } topic ? Grants.Topic(topic, "read") : null;

    /// <inheritdoc />
    public override bool IsVisibleTo(Grants grants) => grants.AllowsAny("topics", "read");

    private protected override async ValueTask ExecuteAsync(ToolArguments arguments, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        var topic = topics.Get(arguments.RequiredString("topic")).Name;
        var limit = arguments.Integer("limit") ?? 100;
        var wait = arguments.Integer("wait_ms") ?? 0;
        if (limit is < 1 or > 1000)
        {
            throw new ToolException("'limit' must be between 1 and 1000");
        }

        if (wait is < 0 or > 60_000)
        {
            throw new ToolException("'wait_ms' must be between 0 and 60000");
        }

        var filter = Filter(arguments.Get("filter"));
        // The log's end is taken before reading: every event up to it is read (or filtered out), so it is a safe cursor.
        var last = await store.LastSequenceAsync(cancellationToken);
        var after = Cursor(arguments.Get("after"), last);
        IReadOnlyList<TopicEvent> events = after is { } from
            ? await store.ReadAsync(topic, from, limit, filter, cancellationToken)
            : await store.ReadLatestAsync(topic, limit, filter, cancellationToken);
        var cursor = NextCursor(events, limit, after, last);

        // Nothing yet: wait for the topic to move, then read again; events the filter drops move the cursor on.
        var deadline = DateTimeOffset.UtcNow.AddMilliseconds(wait);
        // A server that is stopping answers at once (nothing new, the same cursor) rather than holding its shutdown.
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
        while (events.Count == 0 && DateTimeOffset.UtcNow < deadline && !waiting.IsCancellationRequested && await WaitAsync(topic, cursor, deadline - DateTimeOffset.UtcNow, waiting.Token, cancellationToken) is not null)
        {
            var fresh = await store.ReadAsync(topic, cursor, limit, EventFilter.All, cancellationToken);
            events = fresh.Where(filter.Matches).ToList();
            cursor = fresh.Count > 0 ? fresh[^1].Sequence : cursor;
        }

        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("topic"u8, topic);
        json.WriteStartArray("events"u8);
        foreach (var e in events)
        {
            WriteEvent(json, e);
        }

        json.WriteEndArray();
        json.WriteNumber("cursor"u8, cursor);
        json.WriteEndObject();
        metrics.EventsRead(topic, events.Count);
    }

    /// <summary>Writes one event as JSON (shared with the topic resource).</summary>
    public static void WriteEvent(Utf8JsonWriter json, TopicEvent e)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(e);
        json.WriteStartObject();
        json.WriteNumber("seq"u8, e.Sequence);
        json.WriteString("type"u8, e.Type);
        json.WriteString("source"u8, e.Source);
        json.WriteString("severity"u8, Severities.Name(e.Severity));
        json.WriteString("time"u8, TopicEvent.FormatTime(e.Time));
        json.WritePropertyName("data"u8);
        e.Data.WriteTo(json);
        if (e.TraceId is { } trace)
        {
            json.WriteString("trace_id"u8, trace);
        }

        json.WriteEndObject();
    }

    /// <summary>The bus's wait, where stopping the server (<paramref name="waiting"/> without <paramref name="caller"/>) counts as a timeout.</summary>
    private async Task<long?> WaitAsync(string topic, long cursor, TimeSpan timeout, CancellationToken waiting, CancellationToken caller)
    {
        try
        {
            return await bus.WaitAsync(topic, cursor, timeout, waiting);
        }
        catch (OperationCanceledException) when (!caller.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>
    /// The cursor to read on from after a read that returned <paramref name="events"/> (at most <paramref name="limit"/>)
    /// after <paramref name="after"/>, with the log's end <paramref name="last"/> taken before the read: a full page ends at
    /// its last event; otherwise everything up to <paramref name="last"/> was read or filtered out.
    /// </summary>
    public static long NextCursor(IReadOnlyList<TopicEvent> events, int limit, long? after, long last)
    {
        ArgumentNullException.ThrowIfNull(events);
        return after is not null && events.Count >= limit
            ? events[^1].Sequence
            : Math.Max(Math.Max(after ?? 0, last), events.Count > 0 ? events[^1].Sequence : 0);
    }

    private static long? Cursor(JsonElement? value, long last)
    {
        long? cursor = value switch
        {
            null => null,
            { ValueKind: JsonValueKind.Number } n when n.TryGetInt64(out var number) => number,
            { ValueKind: JsonValueKind.String } s when long.TryParse(s.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var number) => number,
            _ => throw new ToolException("'after' is not a cursor: pass the 'cursor' of an earlier read_events result, or leave it out for the newest events"),
        };
        if (cursor is < 0)
        {
            throw new ToolException("'after' is not a cursor: cursors are never negative");
        }

        return cursor is { } given ? CheckCursor(given, last) : null;
    }

    /// <summary>Returns <paramref name="cursor"/> when it is not ahead of the log's end <paramref name="last"/>; else a tool error.</summary>
    public static long CheckCursor(long cursor, long last) => cursor <= last
        ? cursor
        : throw new ToolException($"'after' ({cursor}) is ahead of the log (its newest event is {last}): pass a cursor you received, or leave it out");

    private static EventFilter Filter(JsonElement? value)
    {
        if (value is not { } filter)
        {
            return EventFilter.All;
        }

        if (filter.ValueKind != JsonValueKind.Object)
        {
            throw new ToolException("'filter' must be an object: {types?, source?, min_severity?, message?, fields?}");
        }

        var result = new EventFilter();
        foreach (var property in filter.EnumerateObject())
        {
            result = property.Name switch
            {
                "types" when property.Value.ValueKind == JsonValueKind.Array && property.Value.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String) =>
                    result with { Types = property.Value.EnumerateArray().Select(t => t.GetString()!).ToArray() },
                "source" when property.Value.ValueKind == JsonValueKind.String => result with { Source = property.Value.GetString() },
                "min_severity" when Severities.TryParse(property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null, out var severity) =>
                    result with { MinSeverity = severity },
                "message" when property.Value.ValueKind == JsonValueKind.String => result with { Message = EventFilter.Pattern(property.Value.GetString()!) },
                "fields" when property.Value.ValueKind == JsonValueKind.Object =>
                    result with { Fields = property.Value.EnumerateObject().ToDictionary(f => f.Name, f => f.Value.Clone(), StringComparer.Ordinal) },
                "types" or "source" or "min_severity" or "message" or "fields" =>
                    throw new ToolException($"filter.{property.Name} has the wrong type: types is a list of strings, source and message strings, min_severity one of debug, info, warning, error, critical, fields an object"),
                _ => throw new ToolException($"filter.{property.Name} is not a filter (filters: types, source, min_severity, message, fields)"),
            };
        }

        return result;
    }
}
