using System.Globalization;
using System.Text.Json;
using Tributary.Core;
using Tributary.Topics;

namespace Tributary.Server.Mcp;

/// <summary>
/// A topic resource URI, <c>tributary://topics/{topic}?types=a,b&amp;source=..&amp;min_severity=..&amp;message=..&amp;fields=..&amp;after=..&amp;limit=..</c>:
/// the topic, the filter its query asks for, and the cursor and page size of a read. Reads and subscriptions of the
/// resource both honour the filter.
/// </summary>
internal sealed record TopicQuery(Tributary.Core.Configuration.TopicConfig Topic, EventFilter Filter, long? After, int Limit)
{
    /// <summary>Every topic resource URI starts with this.</summary>
    public const string Prefix = "tributary://topics/";

    /// <summary>The resource's URI template.</summary>
    public const string Template = Prefix + "{topic}{?types,source,min_severity,message,fields,after,limit}";

    /// <summary>Events a read returns when the query does not say.</summary>
    public const int DefaultLimit = 50;

    private const string Keys = "types, source, min_severity, message, fields, after, limit";

    /// <summary>Reads a whole topic resource URI; a URI of another shape or a bad query is a <see cref="ToolException"/>.</summary>
    public static TopicQuery Parse(string uri, TopicRegistry topics)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.StartsWith(Prefix, StringComparison.Ordinal))
        {
            throw new ToolException($"'{uri}' is not a topic resource: topic resources are {Prefix}{{topic}}");
        }

        var query = uri.Split('#', 2)[0].Split('?', 2) is [_, var text] ? text : "";
        return Parse(TopicName(uri), query, topics);
    }

    /// <summary>The topic name in a topic resource URI (the path after <see cref="Prefix"/>, unescaped).</summary>
    public static string TopicName(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        return !uri.StartsWith(Prefix, StringComparison.Ordinal) ? "" : Uri.UnescapeDataString(uri[Prefix.Length..].Split('#', 2)[0].Split('?', 2)[0]);
    }

    /// <summary>Reads a topic name and the query string (still URL-encoded) of its resource URI.</summary>
    public static TopicQuery Parse(string topic, string query, TopicRegistry topics)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(topics);
        var result = new TopicQuery(topics.Get(topic), EventFilter.All, null, DefaultLimit);
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var (key, value) = pair.Split('=', 2) is [var k, var v] ? (Unescape(k), Unescape(v)) : (Unescape(pair), "");
            var filter = result.Filter;
            result = key switch
            {
                "types" => result with { Filter = filter with { Types = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) } },
                "source" => result with { Filter = filter with { Source = value } },
                "min_severity" => result with { Filter = filter with { MinSeverity = Severities.TryParse(value, out var severity) ? severity : throw Bad(key, value, "debug, info, warning, error or critical") } },
                "message" => result with { Filter = filter with { Message = EventFilter.Pattern(value) } },
                "fields" => result with { Filter = filter with { Fields = Fields(value) } },
                "after" => result with { After = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var after) ? after : throw Bad(key, value, "a cursor (a sequence number from an earlier read)") },
                "limit" => result with { Limit = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) && limit is >= 1 and <= 1000 ? limit : throw Bad(key, value, "a number from 1 to 1000") },
                _ => throw new ToolException($"'{key}' is not a topic resource parameter (parameters: {Keys})"),
            };
        }

        return result;
    }

    private static Dictionary<string, JsonElement> Fields(string value)
    {
        try
        {
            using var document = JsonDocument.Parse(value);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document.RootElement.EnumerateObject().ToDictionary(f => f.Name, f => f.Value.Clone(), StringComparer.Ordinal);
            }
        }
        catch (JsonException)
        {
        }

        throw Bad("fields", value, "a JSON object of data fields (dotted paths) and the values they must equal, URL-encoded: fields=%7B%22status%22%3A%22shipped%22%7D");
    }

    private static ToolException Bad(string key, string value, string expected) => new($"'{key}={value}' is not valid: {key} is {expected}");

    private static string Unescape(string text) => Uri.UnescapeDataString(text.Replace('+', ' '));
}
