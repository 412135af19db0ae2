using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using Tributary.Core;
using Tributary.Core.Security;
using Tributary.Core.Configuration;
using Tributary.Core.Queries;
using Tributary.Core.Sources;
using Tributary.Core.Writes;
using Tributary.Server.State;

namespace Tributary.Server.Mcp;

/// <summary>The MCP tools built from the configuration's <c>tools:</c> section.</summary>
internal static class NamedTools
{
    /// <summary>The tool for a configured statement or call: a read becomes a <see cref="NamedQueryTool"/>, a write a <see cref="NamedWriteTool"/>, a call to an HTTP API a <see cref="NamedHttpTool"/>.</summary>
    public static TributaryTool Create(ToolConfig tool, SourceRegistry sources, QueryCursorCodec cursors, Caching.QueryResultCache results, WriteRunner? writes) =>
        tool.Http is not null ? new NamedHttpTool(tool, sources)
        : tool.Shape == StatementShape.Read
            ? new NamedQueryTool(tool, sources, cursors, results)
            : new NamedWriteTool(tool, sources, writes ?? throw new InvalidOperationException("write tools need a writable source"));

    /// <summary>The schema of a named tool's parameters (those bound to a claim are not the caller's to give).</summary>
    public static ValueSchema Parameters(ToolConfig tool) => new(tool.Parameters.Where(p => p.FromClaim is null).Select(p => new ValueSpec(
        p.Name, p.Type, Nullable: false, p.Description, p.Required, p.Rules, ValueSchema.DefaultValue(p.Type, p.Default))).ToArray());

    /// <summary>
    /// The arguments of a call without those bound to claims (whatever the model sends for them is ignored), and the
    /// claim-bound parameters with their values from <paramref name="user"/>; a missing or mistyped claim is a tool error.
    /// </summary>
    public static (Dictionary<string, JsonElement> Given, (QueryParameter Parameter, JsonElement Json)[] Claims) Split(ToolConfig tool, IEnumerable<KeyValuePair<string, JsonElement>> arguments, System.Security.Claims.ClaimsPrincipal? user)
    {
        var bound = tool.Parameters.Where(p => p.FromClaim is not null).ToArray();
        var given = arguments.Where(a => bound.All(b => b.Name != a.Key)).ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal);
        var claims = bound.Select(p =>
        {
            var text = user?.FindFirst(p.FromClaim!)?.Value ?? throw new ToolException($"this tool needs the claim '{p.FromClaim}' in your credentials, which they do not carry");
            object value = p.Type switch
            {
                "integer" => long.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var number) ? number : throw new ToolException($"the claim '{p.FromClaim}' is not an integer"),
                _ => text,
            };
            return (new QueryParameter(p.Name, value), JsonElement.Parse(value is long l ? l.ToString(System.Globalization.CultureInfo.InvariantCulture) : JsonSerializer.Serialize(text, Core.CoreJsonContext.Default.String)));
        }).ToArray();
        return (given, claims);
    }

    /// <summary>The input schema of a named tool: its parameters, plus <paramref name="extra"/> properties written as JSON.</summary>
    public static string InputSchema(ValueSchema parameters, Action<Utf8JsonWriter>? extra = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("type"u8, "object"u8);
            json.WriteBoolean("additionalProperties"u8, false);
            json.WriteStartObject("properties"u8);
            parameters.WriteProperties(json);
            extra?.Invoke(json);
            json.WriteEndObject();
            json.WriteStartArray("required"u8);
            foreach (var name in parameters.RequiredNames)
            {
                json.WriteStringValue(name);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Validated arguments as named database parameters, and as the JSON object a cursor carries.</summary>
    public static (QueryParameter[] Parameters, JsonElement Json) Bind(IReadOnlyList<KeyValuePair<string, object?>> values, IEnumerable<KeyValuePair<string, JsonElement>> given, ValueSchema schema, (QueryParameter Parameter, JsonElement Json)[] claims)
    {
        // A parameter left out, without a default, is bound as NULL: statements test it with @name IS NULL.
        var parameters = schema.Specs.Select(s => new QueryParameter(s.Name, values.FirstOrDefault(v => v.Key == s.Name).Value)).Concat(claims.Select(c => c.Parameter)).ToArray();
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            var map = given.ToDictionary(g => g.Key, g => g.Value, StringComparer.Ordinal);
            foreach (var spec in schema.Specs)
            {
                if ((map.TryGetValue(spec.Name, out var value) ? value : spec.Default) is { } bound)
                {
                    json.WritePropertyName(spec.Name);
                    bound.WriteTo(json);
                }
            }

            foreach (var (parameter, value) in claims)
            {
                json.WritePropertyName(parameter.Name!);
                value.WriteTo(json);
            }

            json.WriteEndObject();
        }

        return (parameters, JsonElement.Parse(buffer.WrittenSpan));
    }
}

/// <summary>A configured read statement as a tool: typed parameters, the <c>query</c> result shape, paging through <c>query</c>'s cursor.</summary>
internal sealed class NamedQueryTool(ToolConfig tool, SourceRegistry sources, QueryCursorCodec cursors, Caching.QueryResultCache results) : TributaryTool(ReadOnlyTool(
    tool.Name,
    tool.Name,
    (tool.Description.Length > 0 ? tool.Description : $"Runs the configured query '{tool.Name}' on source '{tool.Source}'.") +
    " Returns {columns, rows, row_count, truncated, next_cursor}; when truncated, call query with only {cursor: next_cursor} for the next page.",
    NamedTools.InputSchema(NamedTools.Parameters(tool)),
    QueryTool.ResultSchema))
{
    /// <inheritdoc />
    public override string? RequiredScope(IReadOnlyDictionary<string, JsonElement>? arguments) => Grants.Tool(tool.Name);

    /// <inheritdoc />
    public override bool IsVisibleTo(Grants grants) => grants.Allows(Grants.Tool(tool.Name));

    /// <summary>The source the statement reads.</summary>
    public string Source => tool.Source;

    private readonly ValueSchema _parameters = NamedTools.Parameters(tool);

    private protected override async ValueTask ExecuteAsync(ToolArguments arguments, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var (given, claims) = NamedTools.Split(tool, arguments.All, arguments.User);
        var values = _parameters.Validate(given);
        var (parameters, json) = NamedTools.Bind(values, given, _parameters, claims);
        var limits = sources.Config(tool.Source);
        var request = new QueryRequest(tool.Statement, parameters, limits.MaxRows, 0, limits.MaxResultBytes);
        var page = new Caching.QueryPage(tool.Name, tool.Source, request, next => cursors.Encode(new CursorState(tool.Source, tool.Statement, json, next, limits.MaxRows)), arguments.Grants, tool.CacheTtl, start);
        await results.WriteAsync(page, output, cancellationToken);
    }
}

/// <summary>A configured INSERT, UPDATE or DELETE as a tool: typed parameters, one transaction, idempotency key, dry run, audit.</summary>
internal sealed class NamedWriteTool(ToolConfig tool, SourceRegistry sources, WriteRunner writes) : TributaryTool(WriteTool(
    tool.Name,
    tool.Name,
    (tool.Description.Length > 0 ? tool.Description : $"Runs the configured {tool.Shape.ToString().ToUpperInvariant()} '{tool.Name}' on table '{tool.WritesTable}' of source '{tool.Source}'.") +
    " One transaction; returns {rows_affected, rows, dry_run, audit_id}. Set dry_run to see what would change without writing; set idempotency_key so a retry never applies twice.",
    NamedTools.InputSchema(NamedTools.Parameters(tool), WriteArguments),
    ResultSchema,
    destructive: tool.Destructive ?? tool.Shape is StatementShape.Delete or StatementShape.Update or StatementShape.Upsert,
    idempotent: tool.Idempotent ?? tool.Shape is StatementShape.Delete))
{
    /// <inheritdoc />
    public override string? RequiredScope(IReadOnlyDictionary<string, JsonElement>? arguments) => Grants.Tool(tool.Name);

    /// <inheritdoc />
    public override bool IsVisibleTo(Grants grants) => grants.Allows(Grants.Tool(tool.Name));

    private const string ResultSchema = """
        {"type":"object","required":["rows_affected","rows","dry_run"],"properties":{
          "rows_affected":{"type":"integer"},"rows":{"type":"array","items":{"type":"object"}},
          "dry_run":{"type":"boolean"},"audit_id":{"type":"integer"}}}
        """;

    private readonly ValueSchema _parameters = NamedTools.Parameters(tool);

    /// <summary>Writes the arguments every write tool takes: <c>idempotency_key</c> and <c>dry_run</c>.</summary>
    internal static void WriteArguments(Utf8JsonWriter json)
    {
        json.WriteStartObject("idempotency_key"u8);
        json.WriteString("type"u8, "string"u8);
        json.WriteNumber("maxLength"u8, WriteRunner.MaxKeyLength);
        json.WriteString("description"u8, "A key unique to this change (such as a UUID): repeating the call with the same key returns the first result and writes nothing again"u8);
        json.WriteEndObject();
        json.WriteStartObject("dry_run"u8);
        json.WriteString("type"u8, "boolean"u8);
        json.WriteString("description"u8, "True to see what would change, writing nothing"u8);
        json.WriteEndObject();
    }

    private protected override async ValueTask ExecuteAsync(ToolArguments arguments, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        var (given, claims) = NamedTools.Split(tool, arguments.All.Where(a => !ConfigLoader.WriteToolArguments.Contains(a.Key)), arguments.User);
        var values = _parameters.Validate(given);
        var (parameters, json) = NamedTools.Bind(values, given, _parameters, claims);
        var source = sources.Get(tool.Source) as IWritableSource ?? throw new ToolException($"source '{tool.Source}' does not accept writes");
        var call = new WriteCall(tool.Name, tool.Source, tool.WritesTable!, arguments.Principal, given, arguments.String("idempotency_key"), arguments.Boolean("dry_run"));
        await writes.RunAsync(call, async () =>
        {
            var outcome = await source.ExecuteWriteAsync(new WriteStatement(tool.Statement, parameters, call.DryRun), cancellationToken);
            var body = Body(outcome);
            var audit = new AuditEntry(DateTimeOffset.UtcNow, call.Principal, tool.Name, tool.Source, tool.WritesTable, "arguments:" + WriteRunner.Digest(json), outcome.RowsAffected, null, WriteRunner.Digest(body), null);
            return new WriteReport(body, audit);
        }, output);
    }

    private static JsonElement Body(WriteOutcome outcome)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("rows_affected"u8, outcome.RowsAffected);
            json.WriteStartArray("rows"u8);
            foreach (var row in outcome.Rows)
            {
                row.WriteTo(json);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return JsonElement.Parse(buffer.WrittenSpan);
    }
}
