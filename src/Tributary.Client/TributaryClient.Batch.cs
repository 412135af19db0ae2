using System.Text.Json;

namespace Tributary.Client;

/// <summary>Batches: <see cref="BatchQueryAsync"/>, and the first pages of queries gathered by the opt-in <see cref="QueryCoalescing"/>.</summary>
public sealed partial class TributaryClient
{
    /// <summary>The name of the server's batch tool.</summary>
    internal const string BatchQueryTool = "batch_query";

    private Task<bool>? _offersBatchQuery;
    private QueryCoalescer? _coalescer;

    /// <summary>
    /// Runs up to 100 reads in one <c>batch_query</c> call and returns one result per item, in order. An item that fails
    /// (bad SQL, an unknown source, a scope the credentials lack) has its own <see cref="BatchItemResult.Error"/>; the
    /// others still answer. A server without <c>batch_query</c> (an older one, or credentials that may read no source)
    /// is a <see cref="NotSupportedException"/>; a batch the server refuses whole (more than 100 items) a
    /// <see cref="TributaryToolException"/>.
    /// </summary>
    public async Task<IReadOnlyList<BatchItemResult>> BatchQueryAsync(IReadOnlyList<BatchItem> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (!await OffersBatchQueryAsync().WaitAsync(cancellationToken))
        {
            throw new NotSupportedException($"{Where(_options)} does not offer batch_query to these credentials (an older server, or one that lets them read no source): send the queries one by one with QueryAsync");
        }

        return await SendBatchAsync([.. items.Select(i => i.ToArguments())], cancellationToken);
    }

    /// <summary>True when the server lists <c>batch_query</c> to this caller (asked once per client, by one call for all callers).</summary>
    internal Task<bool> OffersBatchQueryAsync()
    {
        if (Volatile.Read(ref _offersBatchQuery) is { IsFaulted: false, IsCanceled: false } known)
        {
            return known;
        }

        // A failed probe is not remembered: the next call asks again.
        var probe = RunAsync(async (client, token) => (await client.ListToolsAsync(cancellationToken: token)).Any(t => t.Name == BatchQueryTool), CancellationToken.None);
        Volatile.Write(ref _offersBatchQuery, probe);
        return probe;
    }

    /// <summary>One <c>batch_query</c> call with <paramref name="items"/> as its items.</summary>
    internal async Task<IReadOnlyList<BatchItemResult>> SendBatchAsync(IReadOnlyList<Dictionary<string, JsonElement>> items, CancellationToken cancellationToken)
    {
        var batch = Json(w =>
        {
            w.WriteStartArray();
            foreach (var item in items)
            {
                WriteObject(w, item);
            }

            w.WriteEndArray();
        });
        var result = await CallToolAsync(BatchQueryTool, new Dictionary<string, JsonElement> { ["items"] = batch }, cancellationToken);
        return [.. result.GetProperty("results").EnumerateArray().Select(BatchItemResult.From)];
    }

    /// <summary>One page of <c>query</c>: a first page through the coalescer when it is on, a continuation on its own.</summary>
    private Task<JsonElement> QueryPageAsync(Dictionary<string, JsonElement> arguments, CancellationToken cancellationToken) =>
        _options.Coalescing is { } coalescing && !arguments.ContainsKey("cursor")
            ? (LazyInitializer.EnsureInitialized(ref _coalescer, () => new QueryCoalescer(this, coalescing))).QueryAsync(arguments, cancellationToken)
            : CallToolAsync("query", arguments, cancellationToken);

    /// <summary>The arguments of <c>query</c> (and of a <c>batch_query</c> item) for a first page.</summary>
    internal static Dictionary<string, JsonElement> QueryArguments(string source, string sql, IReadOnlyDictionary<string, JsonElement>? parameters, int? maxRows)
    {
        var arguments = new Dictionary<string, JsonElement>(Arguments(("source", source), ("sql", sql)));
        if (parameters is not null)
        {
            arguments["params"] = JsonObject(parameters);
        }

        if (maxRows is { } rows)
        {
            arguments["max_rows"] = Json(w => w.WriteNumberValue(rows));
        }

        return arguments;
    }

    /// <summary>A JSON object of <paramref name="values"/>.</summary>
    internal static JsonElement JsonObject(IReadOnlyDictionary<string, JsonElement> values) => Json(w => WriteObject(w, values));

    private static void WriteObject(Utf8JsonWriter writer, IEnumerable<KeyValuePair<string, JsonElement>> values)
    {
        writer.WriteStartObject();
        foreach (var (name, value) in values)
        {
            writer.WritePropertyName(name);
            value.WriteTo(writer);
        }

        writer.WriteEndObject();
    }
}
