using System.Text.Json;

namespace Tributary.Client;

/// <summary>One read of a <see cref="TributaryClient.BatchQueryAsync"/> call: a <see cref="BatchQuery"/> or a <see cref="BatchToolCall"/>.</summary>
public abstract record BatchItem
{
    private protected BatchItem()
    {
    }

    /// <summary>The item as the arguments <c>batch_query</c> takes for it.</summary>
    internal abstract Dictionary<string, JsonElement> ToArguments();
}

/// <summary>A read-only SQL statement, as <c>query</c> runs it (its first page).</summary>
/// <param name="Source">The source, from <c>list_sources</c>.</param>
/// <param name="Sql">Exactly one SELECT statement.</param>
/// <param name="Parameters">Values for its <c>@name</c> parameters, as JSON.</param>
/// <param name="MaxRows">Rows in the page; the source's default when null.</param>
public sealed record BatchQuery(string Source, string Sql, IReadOnlyDictionary<string, JsonElement>? Parameters = null, int? MaxRows = null) : BatchItem
{
    internal override Dictionary<string, JsonElement> ToArguments() => TributaryClient.QueryArguments(Source, Sql, Parameters, MaxRows);
}

/// <summary>A call of a configured read tool (from the server's <c>tools:</c>).</summary>
/// <param name="Tool">The tool's name.</param>
/// <param name="Arguments">Its arguments, as JSON.</param>
public sealed record BatchToolCall(string Tool, IReadOnlyDictionary<string, JsonElement>? Arguments = null) : BatchItem
{
    internal override Dictionary<string, JsonElement> ToArguments()
    {
        var arguments = new Dictionary<string, JsonElement>(StringComparer.Ordinal) { ["tool"] = TributaryClient.Json(w => w.WriteStringValue(Tool)) };
        if (Arguments is not null)
        {
            arguments["params"] = TributaryClient.JsonObject(Arguments);
        }

        return arguments;
    }
}

/// <summary>The answer to one item of a batch: its result, shaped as <c>query</c>'s, or the error that item alone got.</summary>
/// <param name="Result">The result (<c>{columns, rows, row_count, truncated, next_cursor?, elapsed_ms}</c>); default when the item failed.</param>
/// <param name="Error">Why the item failed (the text its single call would have given); null when it succeeded.</param>
public sealed record BatchItemResult(JsonElement Result, string? Error)
{
    /// <summary>True when the item has a result.</summary>
    public bool Succeeded => Error is null;

    /// <summary>The rows of the result; a failed item throws its error as a <see cref="TributaryToolException"/>.</summary>
    public IReadOnlyList<QueryRow> Rows()
    {
        if (Error is not null)
        {
            throw new TributaryToolException(TributaryClient.BatchQueryTool, Error);
        }

        var columns = Result.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("name").GetString()!).ToArray();
        return [.. Result.GetProperty("rows").EnumerateArray().Select(row => new QueryRow(columns, [.. row.EnumerateArray()]))];
    }

    internal static BatchItemResult From(JsonElement item) =>
        item.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String
            ? new BatchItemResult(default, error.GetString())
            : new BatchItemResult(item.GetProperty("result"), null);
}

/// <summary>
/// Opt-in coalescing of concurrent <see cref="TributaryClient.QueryAsync(string, string, IReadOnlyDictionary{string, JsonElement}?, int?, CancellationToken)"/>
/// calls: the first pages of queries started within <see cref="Window"/> of each other go to the server as one
/// <c>batch_query</c> call of up to <see cref="MaxItems"/> items, and each caller gets its own rows or error. A query
/// waits at most <see cref="Window"/> before it is sent; against a server without <c>batch_query</c> queries are sent
/// one by one.
/// </summary>
public sealed record QueryCoalescing
{
    /// <summary>How long the first query of a group waits for others; default 50 ms.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The most queries in one batch (a full group is sent at once); default 100, the server's limit.</summary>
    public int MaxItems { get; init; } = 100;

    /// <summary>Checks the settings; a problem is an <see cref="ArgumentException"/>.</summary>
    internal void Validate()
    {
        if (Window <= TimeSpan.Zero || Window > TimeSpan.FromSeconds(5))
        {
            throw new ArgumentException($"Coalescing.Window must be more than 0 and at most 5 s (got {Window.TotalMilliseconds} ms)");
        }

        if (MaxItems is < 1 or > 100)
        {
            throw new ArgumentException($"Coalescing.MaxItems must be from 1 to 100, batch_query's limit (got {MaxItems})");
        }
    }
}
