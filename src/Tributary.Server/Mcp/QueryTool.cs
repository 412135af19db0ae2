using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using Tributary.Core;
using Tributary.Core.Security;
using Tributary.Core.Queries;
using Tributary.Core.Sources;

namespace Tributary.Server.Mcp;

/// <summary>
/// <c>query</c>: one read-only SQL statement, enforced by the engine; a row cap with <c>truncated</c> and a signed
/// <c>next_cursor</c> that continues the same query.
/// </summary>
public sealed class QueryTool(SourceRegistry sources, QueryCursorCodec cursors, Caching.QueryResultCache results) : TributaryTool(ReadOnlyTool(
    ToolName,
    "Run a read-only SQL query",
    "Runs exactly one read-only SQL statement (SELECT or WITH ... SELECT) against a source and returns {columns, rows, row_count, truncated, next_cursor, elapsed_ms}; rows are arrays in column order. " +
    "Bind values with 'params' (named @name as an object, or positional ? in SQLite and $1 in PostgreSQL as an array) instead of writing them into the SQL. " +
    "At most 'max_rows' rows come back (default per source, usually 500); when 'truncated' is true, call query again with only 'cursor' set to 'next_cursor' for the next page. " +
    "Writes are refused by the database engine; long statements are cancelled at the source's statement timeout. Where the source caches results, 'cache' says whether this one came from the cache (hit) or from running the query (miss).",
    """
    {"type":"object","additionalProperties":false,"properties":{
      "source":{"type":"string","description":"Source name, from list_sources"},
      "sql":{"type":"string","description":"Exactly one SELECT statement"},
      "params":{"type":["object","array"],"description":"Values for @name parameters (object) or positional ? / $1 parameters (array)"},
      "max_rows":{"type":"integer","minimum":1,"description":"Rows per page (default per source, usually 500)"},
      "cursor":{"type":"string","description":"next_cursor of an earlier page: continues that query (source and sql may then be left out)"}}}
    """,
    ResultSchema))
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "query";

    /// <inheritdoc />
    public override string? RequiredScope(IReadOnlyDictionary<string, JsonElement>? arguments)
    {
        // A continuation reads the source its (signed) cursor names.
        if (StringArgument(arguments, "cursor") is { } cursor)
        {
            try
            {
                return Grants.Source(cursors.Decode(cursor).Source, "read");
            }
            catch (ToolException)
            {
                return null;
            }
        }

        return StringArgument(arguments, "source") is { } source ? Grants.Source(source, "read") : null;
    }

    /// <inheritdoc />
    public override bool IsVisibleTo(Grants grants) => grants.AllowsAny("sources", "read");

    /// <summary>The output schema of query results, shared by named read tools.</summary>
    internal const string ResultSchema = """
    {"type":"object","required":["columns","rows","row_count","truncated","elapsed_ms"],"properties":{
      "columns":{"type":"array","items":{"type":"object","required":["name","type"],"properties":{"name":{"type":"string"},"type":{"type":"string"}}}},
      "rows":{"type":"array","items":{"type":"array"}},
      "row_count":{"type":"integer"},
      "truncated":{"type":"boolean"},
      "next_cursor":{"type":"string"},
      "cache":{"type":"string","enum":["hit","miss"],"description":"Where the source or tool caches results: from the cache (hit) or from running the query (miss)"},
      "elapsed_ms":{"type":"number"}}}
    """;

    private protected override async ValueTask ExecuteAsync(ToolArguments arguments, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var sourceName = arguments.String("source");
        var sql = arguments.String("sql");
        var parameters = arguments.Get("params");
        var maxRows = arguments.Integer("max_rows");
        var offset = 0;
        if (arguments.String("cursor") is { } cursor)
        {
            var state = cursors.Decode(cursor);
            if (sourceName is not null && sourceName != state.Source)
            {
                throw new ToolException($"the cursor belongs to source '{state.Source}', not '{sourceName}': leave 'source' out or run the query again");
            }

            if (sql is not null && sql != state.Sql)
            {
                throw new ToolException("the cursor belongs to a different query: send only 'cursor' to continue, or leave 'cursor' out to start a new query");
            }

            (sourceName, sql, parameters, offset, maxRows) = (state.Source, state.Sql, state.Parameters, state.Offset, maxRows ?? state.MaxRows);
        }

        if (sourceName is null)
        {
            throw new ToolException("'source' is required (a string, from list_sources)");
        }

        if (string.IsNullOrWhiteSpace(sql))
        {
            throw new ToolException("'sql' is required: one SELECT statement");
        }

        var source = sources.Get(sourceName);
        var limits = sources.Config(sourceName);
        var rows = maxRows ?? limits.MaxRows;
        if (rows < 1 || rows > limits.MaxRowsLimit)
        {
            throw new ToolException($"'max_rows' must be between 1 and {limits.MaxRowsLimit} for source '{sourceName}' (got {rows}): page through larger results with next_cursor");
        }

        var request = new QueryRequest(sql, ToParameters(parameters), rows, offset, limits.MaxResultBytes);
        var parametersForCursor = parameters;
        var page = new Caching.QueryPage(ToolName, sourceName, request, next => cursors.Encode(new CursorState(sourceName, sql, parametersForCursor, next, rows)), arguments.Grants, null, start);
        await results.WriteAsync(page, output, cancellationToken);
    }

    private static QueryParameter[] ToParameters(JsonElement? parameters) => parameters switch
    {
        null => [],
        { ValueKind: JsonValueKind.Object } p => p.EnumerateObject().Select(x => new QueryParameter(x.Name.TrimStart('@', ':', '$'), ValueSchema.ToValue(x.Value))).ToArray(),
        { ValueKind: JsonValueKind.Array } p => p.EnumerateArray().Select(x => new QueryParameter(null, ValueSchema.ToValue(x))).ToArray(),
        _ => throw new ToolException("'params' must be an object of named values or an array of positional values"),
    };
}
