using System.Globalization;
using System.Text.Json;

namespace Tributary.Client;

/// <summary>The state of a client's connection, as <see cref="TributaryClient.StatusChanged"/> reports it.</summary>
public enum ConnectionStatus
{
    /// <summary>Connected (again, after a reconnect).</summary>
    Connected,

    /// <summary>The connection or session was lost and a new one is being made.</summary>
    Reconnecting,

    /// <summary>Retries are used up; the call failed with a <see cref="TributaryConnectionException"/>.</summary>
    Lost,
}

/// <summary>What <c>list_sources</c> shows the caller.</summary>
/// <param name="Sources">The sources.</param>
/// <param name="Topics">The names of the topics.</param>
public sealed record SourceList(IReadOnlyList<SourceInfo> Sources, IReadOnlyList<string> Topics);

/// <summary>One data source.</summary>
/// <param name="Name">Its name, for <c>query</c> and <c>describe_schema</c>.</param>
/// <param name="Kind">Its provider, such as <c>sqlite</c> or <c>postgres</c>.</param>
/// <param name="Description">What the data is.</param>
/// <param name="ReadOnly">True when it takes no writes.</param>
/// <param name="TableCount">How many tables it has; null when the source could not be reached.</param>
public sealed record SourceInfo(string Name, string Kind, string Description, bool ReadOnly, int? TableCount);

/// <summary>One row of a query result: values in column order.</summary>
/// <param name="Columns">The column names, shared by the rows of a page.</param>
/// <param name="Values">The values as JSON.</param>
public sealed record QueryRow(IReadOnlyList<string> Columns, IReadOnlyList<JsonElement> Values)
{
    /// <summary>The value of the column called <paramref name="column"/>.</summary>
    public JsonElement this[string column]
    {
        get
        {
            for (var i = 0; i < Columns.Count; i++)
            {
                if (string.Equals(Columns[i], column, StringComparison.Ordinal))
                {
                    return Values[i];
                }
            }

            throw new KeyNotFoundException($"no column '{column}' (columns: {string.Join(", ", Columns)})");
        }
    }

    /// <summary>The row as a JSON object of column names and values.</summary>
    public JsonElement ToObject() => TributaryClient.Json(w =>
    {
        w.WriteStartObject();
        for (var i = 0; i < Columns.Count; i++)
        {
            w.WritePropertyName(Columns[i]);
            Values[i].WriteTo(w);
        }

        w.WriteEndObject();
    });
}

/// <summary>An event of a topic, as <see cref="TributaryClient.SubscribeAsync"/> yields it.</summary>
/// <param name="Sequence">Its position in the log: the cursor to resume after.</param>
/// <param name="Topic">The topic.</param>
/// <param name="Type">What happened, such as <c>order.created</c>.</param>
/// <param name="Source">Who published it.</param>
/// <param name="Severity">debug, info, warning, error or critical.</param>
/// <param name="Time">When it was stored.</param>
/// <param name="Data">Its JSON payload.</param>
/// <param name="TraceId">The trace it belongs to, if any.</param>
public sealed record TopicEvent(long Sequence, string Topic, string Type, string Source, string Severity, DateTimeOffset Time, JsonElement Data, string? TraceId)
{
    internal static TopicEvent From(string topic, JsonElement e) => new(
        e.GetProperty("seq").GetInt64(),
        topic,
        e.GetProperty("type").GetString()!,
        e.GetProperty("source").GetString()!,
        e.GetProperty("severity").GetString()!,
        DateTimeOffset.Parse(e.GetProperty("time").GetString()!, CultureInfo.InvariantCulture),
        e.GetProperty("data").Clone(),
        e.TryGetProperty("trace_id", out var trace) ? trace.GetString() : null);
}

/// <summary>Which events of a topic to follow; empty parts match everything.</summary>
public sealed record TopicFilter
{
    /// <summary>Event types to keep.</summary>
    public IReadOnlyList<string> Types { get; init; } = [];

    /// <summary>Only events from this source.</summary>
    public string? Source { get; init; }

    /// <summary>Only events at least this serious: debug, info, warning, error or critical.</summary>
    public string? MinSeverity { get; init; }

    /// <summary>A regular expression the event's message must match.</summary>
    public string? Message { get; init; }

    /// <summary>Data fields (dotted paths) and the JSON values they must equal.</summary>
    public IReadOnlyDictionary<string, JsonElement> Fields { get; init; } = new Dictionary<string, JsonElement>();

    /// <summary>The topic's resource URI with this filter as its query, such as <c>tributary://topics/logs?min_severity=error</c>: what a subscription names.</summary>
    internal static string ResourceUri(string topic, TopicFilter? filter)
    {
        var parts = new List<string>();
        if (filter is not null)
        {
            Add("types", filter.Types.Count > 0 ? string.Join(',', filter.Types) : null);
            Add("source", filter.Source);
            Add("min_severity", filter.MinSeverity);
            Add("message", filter.Message);
            Add("fields", filter.Fields.Count > 0 ? TributaryClient.Json(filter.WriteFields).GetRawText() : null);
        }

        var uri = "tributary://topics/" + Uri.EscapeDataString(topic);
        return parts.Count == 0 ? uri : uri + "?" + string.Join('&', parts);

        void Add(string key, string? value)
        {
            if (value is not null)
            {
                parts.Add(key + "=" + Uri.EscapeDataString(value));
            }
        }
    }

    internal JsonElement ToJson() => TributaryClient.Json(w =>
    {
        w.WriteStartObject();
        if (Types.Count > 0)
        {
            w.WriteStartArray("types");
            foreach (var type in Types)
            {
                w.WriteStringValue(type);
            }

            w.WriteEndArray();
        }

        if (Source is not null)
        {
            w.WriteString("source", Source);
        }

        if (MinSeverity is not null)
        {
            w.WriteString("min_severity", MinSeverity);
        }

        if (Message is not null)
        {
            w.WriteString("message", Message);
        }

        if (Fields.Count > 0)
        {
            w.WritePropertyName("fields");
            WriteFields(w);
        }

        w.WriteEndObject();
    });

    private void WriteFields(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        foreach (var (path, value) in Fields)
        {
            w.WritePropertyName(path);
            value.WriteTo(w);
        }

        w.WriteEndObject();
    }
}

/// <summary>A tool answered with an error the caller can act on (a bad argument, a refused statement, a denied scope).</summary>
public sealed class TributaryToolException(string tool, string message) : Exception($"{tool}: {message}")
{
    /// <summary>The tool that failed.</summary>
    public string Tool { get; } = tool;

    /// <summary>The tool's error text.</summary>
    public string ToolMessage { get; } = message;
}

/// <summary>The server could not be reached, or stopped answering, after the retries.</summary>
public sealed class TributaryConnectionException(string message, Exception inner) : Exception(message, inner);

/// <summary>The server refused the credentials (HTTP 401 or 403), or the client could not get any (an OAuth authorization that failed).</summary>
public sealed class TributaryAuthenticationException(string message, Exception? inner = null) : Exception(message, inner);
