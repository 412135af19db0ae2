using Tributary.Core.Security;
using System.Buffers;
using System.Text.Json;
using Tributary.Core.Sources;

namespace Tributary.Server.Mcp;

/// <summary>
/// <c>list_sources</c>: every source with its kind, description, whether it is read-only (and which tables writes may
/// change), and its table count; a source that cannot be reached right now is listed with the reason.
/// </summary>
public sealed class ListSourcesTool(SourceRegistry sources, Topics.TopicRegistry topics) : TributaryTool(ReadOnlyTool(
    "list_sources",
    "List data sources",
    "Lists the data sources this server can query: name, kind, description, whether it is read-only (else the tables update_rows may change), and how many tables it has; and the topics (live event logs) to follow with read_events. Start here, then call describe_schema.",
    """{"type":"object","properties":{},"additionalProperties":false}""",
    """
    {"type":"object","required":["sources"],"properties":{"sources":{"type":"array","items":{"type":"object",
      "required":["name","kind","description","read_only","table_count"],
      "properties":{"name":{"type":"string"},"kind":{"type":"string"},"description":{"type":"string"},
        "read_only":{"type":"boolean"},"writable_tables":{"type":"array","items":{"type":"string"}},
        "table_count":{"type":["integer","null"]},"error":{"type":"string"}}}},
      "topics":{"type":"array","items":{"type":"object","required":["name","description"],"properties":{"name":{"type":"string"},"description":{"type":"string"}}}}}}
    """))
{
    /// <summary>Writes the sources list as JSON (shared with the <c>tributary://sources</c> resource).</summary>
    public static async Task WriteAsync(SourceRegistry sources, Topics.TopicRegistry topics, Grants grants, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(topics);
        ArgumentNullException.ThrowIfNull(grants);
        // Only what the caller may use is listed.
        var visible = sources.All.Where(s => grants.Allows(Grants.Source(s.Name, "read")) || grants.Allows(Grants.Source(s.Name, "write"))).ToList();
        var visibleTopics = topics.All.Where(t => grants.Allows(Grants.Topic(t.Name, "read")) || grants.Allows(Grants.Topic(t.Name, "publish"))).ToList();
        var counts = await Task.WhenAll(visible.Select(async s =>
        {
            try
            {
                return ((int?)(await s.ListTablesAsync(cancellationToken)).Count, (string?)null);
            }
            catch (Core.ToolException e)
            {
                return (null, e.Message);
            }
        }));
        await using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteStartArray("sources"u8);
        for (var i = 0; i < visible.Count; i++)
        {
            var source = visible[i];
            json.WriteStartObject();
            json.WriteString("name"u8, source.Name);
            json.WriteString("kind"u8, source.Kind);
            json.WriteString("description"u8, source.Description);
            json.WriteBoolean("read_only"u8, source.IsReadOnly);
            var config = sources.Config(source.Name);
            if (config.Writable)
            {
                json.WriteStartArray("writable_tables"u8);
                foreach (var table in config.WritableTables)
                {
                    json.WriteStringValue(table.Name);
                }

                json.WriteEndArray();
            }

            var (count, error) = counts[i];
            if (count is { } tables)
            {
                json.WriteNumber("table_count"u8, tables);
            }
            else
            {
                json.WriteNull("table_count"u8);
                json.WriteString("error"u8, error);
            }
            json.WriteEndObject();
        }

        json.WriteEndArray();
        if (visibleTopics.Count > 0)
        {
            json.WriteStartArray("topics"u8);
            foreach (var topic in visibleTopics)
            {
                json.WriteStartObject();
                json.WriteString("name"u8, topic.Name);
                json.WriteString("description"u8, topic.Description);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
    }

    private protected override async ValueTask ExecuteAsync(ToolArguments arguments, IBufferWriter<byte> output, CancellationToken cancellationToken) =>
        await WriteAsync(sources, topics, arguments.Grants, output, cancellationToken);
}
