using System.Buffers;
using System.Text.Json;
using Tributary.Core;
using Tributary.Core.Security;
using Tributary.Core.Sources;

namespace Tributary.Server.Mcp;

/// <summary><c>describe_schema</c>: tables and views with columns, keys, indexes and constraints.</summary>
public sealed class DescribeSchemaTool(SourceRegistry sources) : TributaryTool(ReadOnlyTool(
    "describe_schema",
    "Describe a source's schema",
    "Describes the tables and views of a source: columns (type, nullability, default, primary key, comment), foreign keys with the referenced table and columns, indexes, UNIQUE and CHECK constraints, table comments, and the enum types columns use with their values. Give 'table' to describe one table only. Call before writing SQL for query.",
    """
    {"type":"object","required":["source"],"additionalProperties":false,"properties":{
      "source":{"type":"string","description":"Source name, from list_sources"},
      "table":{"type":"string","description":"Only this table or view (optional)"}}}
    """,
    """
    {"type":"object","required":["source","tables"],"properties":{"source":{"type":"string"},"tables":{"type":"array","items":{"type":"object",
      "required":["name","type","columns"],"properties":{"name":{"type":"string"},"type":{"type":"string"},
      "columns":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"type":{"type":"string"},"nullable":{"type":"boolean"},"default":{"type":["string","null"]},"primary_key":{"type":"boolean"},"comment":{"type":"string"}}}},
      "comment":{"type":"string"},
      "primary_key":{"type":"array","items":{"type":"string"}},"foreign_keys":{"type":"array"},"indexes":{"type":"array"},
      "unique_constraints":{"type":"array"},"check_constraints":{"type":"array"}}}},
      "enums":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"values":{"type":"array","items":{"type":"string"}}}}}}}
    """))
{
    /// <inheritdoc />
    public override string? RequiredScope(IReadOnlyDictionary<string, JsonElement>? arguments) =>
        StringArgument(arguments, "source") is { } source ? Grants.Source(source, "read") : null;

    /// <inheritdoc />
    public override bool IsVisibleTo(Grants grants) => grants.AllowsAny("sources", "read");

    /// <summary>Describes <paramref name="source"/> (or one table of it) as JSON (shared with the schema resources).</summary>
    public static async Task WriteAsync(IDataSource source, string? table, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var schema = await source.DescribeAsync(table, cancellationToken);
        await using var json = new Utf8JsonWriter(output);
        JsonSerializer.Serialize(json, schema, CoreJsonContext.Default.DatabaseSchema);
    }

    private protected override async ValueTask ExecuteAsync(ToolArguments arguments, IBufferWriter<byte> output, CancellationToken cancellationToken) =>
        await WriteAsync(sources.Get(arguments.RequiredString("source")), arguments.String("table"), output, cancellationToken);
}
