using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using Tributary.Core;
using Tributary.Core.Security;
using Tributary.Core.Configuration;
using Tributary.Core.Sources;
using Tributary.Core.Writes;
using Tributary.Server.State;

namespace Tributary.Server.Mcp;

/// <summary>
/// <c>update_rows</c>: sets columns of one row, found by its primary key, in a table the configuration lists as writable.
/// Table and column names are checked against the live schema and quoted from it; values are checked against the
/// columns' types and the configured rules, then bound as parameters.
/// </summary>
internal sealed partial class UpdateRowsTool(SourceRegistry sources, WriteRunner writes) : TributaryTool(WriteTool(
    "update_rows",
    "Update a row",
    "Sets columns of one row of a writable table, found by its full primary key, in one transaction. " +
    "Give expected_version (the row's version column as you read it) so a row changed since is not overwritten: a stale version changes nothing and returns a conflict error with the current row and version. " +
    "Set dry_run to see the row before and after without writing, and idempotency_key so a retry never applies twice. list_sources shows which tables are writable.",
    """
    {"type":"object","required":["source","table","key","set"],"additionalProperties":false,"properties":{
      "source":{"type":"string","description":"Source name, from list_sources"},
      "table":{"type":"string","description":"A writable table of the source"},
      "key":{"type":"object","description":"The row's primary key: every key column and its value, such as {\"id\": 42}"},
      "set":{"type":"object","description":"Columns to change and their new values, such as {\"status\": \"shipped\"}"},
      "expected_version":{"type":["integer","string"],"description":"The row's version as last read: the update applies only if it still holds"},
      "idempotency_key":{"type":"string","maxLength":200,"description":"A key unique to this change (such as a UUID): repeating the call with the same key returns the first result and writes nothing again"},
      "dry_run":{"type":"boolean","description":"True to see the change without writing it"}}}
    """,
    """
    {"type":"object","required":["table","key","before","after","dry_run"],"properties":{
      "table":{"type":"string"},"key":{"type":"object"},"before":{"type":"object"},"after":{"type":"object"},
      "version":{},"dry_run":{"type":"boolean"},"audit_id":{"type":"integer"}}}
    """,
    destructive: true,
    idempotent: false))
{
    /// <inheritdoc />
    public override string? RequiredScope(IReadOnlyDictionary<string, JsonElement>? arguments) =>
        StringArgument(arguments, "source") is { } source ? Grants.Source(source, "write") : null;

    /// <inheritdoc />
    public override bool IsVisibleTo(Grants grants) => grants.AllowsAny("sources", "write");

    private static readonly TimeSpan SchemaLifetime = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<(string Source, string Table), (DateTimeOffset Read, Task<TableRules> Rules)> _tables = new();

    private protected override async ValueTask ExecuteAsync(ToolArguments arguments, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        var sourceName = arguments.RequiredString("source");
        var tableName = arguments.RequiredString("table");
        var source = sources.Get(sourceName);
        var config = sources.Config(sourceName);
        if (source is not IWritableSource writable || !config.Writable)
        {
            throw new ToolException($"source '{sourceName}' is read-only: writes are allowed only where the configuration says 'writable: true'");
        }

        var tableConfig = config.WritableTable(tableName)
            ?? throw new ToolException($"table '{tableName}' of source '{sourceName}' is not writable (writable tables: {string.Join(", ", config.WritableTables.Select(t => t.Name))})");
        var rules = await RulesAsync(source, tableConfig, cancellationToken);
        var key = rules.Key.Validate(Object(arguments, "key"), "key.");
        var set = rules.Set.Validate(Object(arguments, "set"), "set.");
        if (key.Count != rules.Key.Specs.Count)
        {
            throw new ToolException($"'key' must give every primary key column of '{tableName}': {string.Join(", ", rules.Key.Specs.Select(s => s.Name))}");
        }

        if (set.Count == 0)
        {
            throw new ToolException($"'set' is empty: give at least one column to change ({string.Join(", ", rules.Set.Specs.Select(s => s.Name))})");
        }

        var expected = arguments.Get("expected_version");
        if (expected is { ValueKind: not (JsonValueKind.Number or JsonValueKind.String) })
        {
            throw new ToolException("'expected_version' must be a number or a string, as the row's version was read");
        }

        var given = arguments.All.Where(a => a.Key is not ("idempotency_key" or "dry_run")).ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal);
        var call = new WriteCall("update_rows", sourceName, tableName, arguments.Principal, given, arguments.String("idempotency_key"), arguments.Boolean("dry_run"));
        var keyJson = arguments.Get("key")!.Value;
        await writes.RunAsync(call, async () =>
        {
            var change = await writable.UpdateRowAsync(new RowUpdate(rules.Table, key, set, tableConfig.VersionColumn, expected, call.DryRun), cancellationToken);
            var body = Body(tableName, keyJson, change);
            var audit = new AuditEntry(DateTimeOffset.UtcNow, call.Principal, "update_rows", sourceName, tableName, keyJson.GetRawText(), 1, WriteRunner.Digest(change.Before), WriteRunner.Digest(change.After), null);
            return new WriteReport(body, audit);
        }, output);
    }

    private static KeyValuePair<string, JsonElement>[] Object(ToolArguments arguments, string name) => arguments.Get(name) switch
    {
        { ValueKind: JsonValueKind.Object } value => value.EnumerateObject().Select(p => new KeyValuePair<string, JsonElement>(p.Name, p.Value)).ToArray(),
        null => throw new ToolException($"'{name}' is required (an object of column names to values)"),
        _ => throw new ToolException($"'{name}' must be an object of column names to values"),
    };

    private static JsonElement Body(string table, JsonElement key, RowChange change)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("table"u8, table);
            json.WritePropertyName("key"u8);
            key.WriteTo(json);
            json.WritePropertyName("before"u8);
            change.Before.WriteTo(json);
            json.WritePropertyName("after"u8);
            change.After.WriteTo(json);
            if (change.Version.ValueKind != JsonValueKind.Undefined)
            {
                json.WritePropertyName("version"u8);
                change.Version.WriteTo(json);
            }

            json.WriteEndObject();
        }

        return JsonElement.Parse(buffer.WrittenSpan);
    }

    private Task<TableRules> RulesAsync(IDataSource source, WritableTableConfig table, CancellationToken cancellationToken)
    {
        var cacheKey = (source.Name, table.Name);
        var now = DateTimeOffset.UtcNow;
        if (_tables.TryGetValue(cacheKey, out var cached) && now - cached.Read < SchemaLifetime && !cached.Rules.IsFaulted && !cached.Rules.IsCanceled)
        {
            return cached.Rules;
        }

        var rules = ReadRulesAsync(source, table, cancellationToken);
        _tables[cacheKey] = (now, rules);
        return rules;
    }

    private static async Task<TableRules> ReadRulesAsync(IDataSource source, WritableTableConfig config, CancellationToken cancellationToken)
    {
        var schema = await source.DescribeAsync(config.Name, cancellationToken);
        var table = schema.Find(config.Name) ?? throw new ToolException($"table '{config.Name}' does not exist in source '{source.Name}'");
        if (table.PrimaryKey.Count == 0)
        {
            throw new ToolException($"table '{config.Name}' has no primary key, so update_rows cannot find one row: add a primary key, or use a named write tool");
        }

        var key = table.PrimaryKey.Select(name => Spec(table.Columns.Single(c => c.Name == name), schema, new ValueRules(), required: true)).ToArray();
        var settable = table.Columns.Where(c => !c.PrimaryKey && c.Name != config.VersionColumn);
        if (config.Columns is { } listed)
        {
            var unknown = listed.Keys.Where(name => table.Columns.All(c => c.Name != name)).ToArray();
            if (unknown.Length > 0)
            {
                throw new ToolException($"the configuration lets update_rows set {string.Join(", ", unknown)} of '{config.Name}', which the table does not have (columns: {string.Join(", ", table.Columns.Select(c => c.Name))})");
            }

            settable = settable.Where(c => listed.ContainsKey(c.Name));
        }

        var set = settable.Select(c => Spec(c, schema, config.Columns?.GetValueOrDefault(c.Name) ?? new ValueRules(), required: false)).ToArray();
        if (config.VersionColumn is { } version && table.Columns.All(c => c.Name != version))
        {
            throw new ToolException($"the version column '{version}' configured for '{config.Name}' is not a column of the table");
        }

        return new TableRules(table, new ValueSchema(key), new ValueSchema(set));
    }

    /// <summary>A column's JSON type and limits from its database type, merged with the configured rules.</summary>
    private static ValueSpec Spec(ColumnSchema column, DatabaseSchema schema, ValueRules configured, bool required)
    {
        var type = column.Type.ToLowerInvariant();
        var jsonType = type switch
        {
            _ when schema.Enums?.Any(e => e.Name == column.Type) == true => "string",
            "boolean" or "bool" => "boolean",
            _ when type.EndsWith("[]", StringComparison.Ordinal) || type is "json" or "jsonb" => null,
            _ when type.Contains("int", StringComparison.Ordinal) => "integer",
            _ when type.Contains("real", StringComparison.Ordinal) || type.Contains("floa", StringComparison.Ordinal) || type.Contains("doub", StringComparison.Ordinal)
                || type.StartsWith("numeric", StringComparison.Ordinal) || type.StartsWith("decimal", StringComparison.Ordinal) => "number",
            "" or "blob" or "bytea" => null,
            _ => "string",
        };
        var rules = configured;
        if (schema.Enums?.FirstOrDefault(e => e.Name == column.Type) is { } enumType && rules.Enum is null)
        {
            rules = rules with { Enum = enumType.Values };
        }

        if (WidthRegex().Match(type) is { Success: true } width && jsonType == "string")
        {
            var limit = int.Parse(width.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            rules = rules with { MaxLength = Math.Min(rules.MaxLength ?? limit, limit) };
        }

        if (rules.Format is null && jsonType == "string")
        {
            rules = rules with
            {
                Format = type switch
                {
                    "uuid" => "uuid",
                    "date" => "date",
                    _ when type.StartsWith("timestamp", StringComparison.Ordinal) => "date-time",
                    _ => null,
                },
            };
        }

        return new ValueSpec(column.Name, jsonType, column.Nullable && !required, $"{column.Type}{(column.Comment is null ? "" : " — " + column.Comment)}", required, rules);
    }

    [GeneratedRegex(@"^(?:character varying|varchar|character|char|nvarchar|nchar)\((\d+)\)$")]
    private static partial Regex WidthRegex();

    private sealed record TableRules(TableSchema Table, ValueSchema Key, ValueSchema Set);
}
