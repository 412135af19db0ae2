using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Server;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Security;
using Tributary.Server.State;

namespace Tributary.Server.Mcp;

/// <summary>
/// <c>batch_query</c>: up to <see cref="MaxItems"/> reads in one call, each a <c>query</c> item <c>{source, sql,
/// params?, max_rows?}</c> or a named read tool item <c>{tool, params?}</c>, with one result or error per item in the
/// input order; a named read tool is a SELECT or a GET of an HTTP API. Each item runs through the same tool as its
/// single call (scope check, read-only guard, row and size caps, statement timeout, claim-bound parameters, an HTTP
/// source's cache), so one bad item fails alone. At most a source's <c>batch_concurrency</c> items of one call run
/// against it at once, whatever its kind.
/// </summary>
public sealed partial class BatchQueryTool(IServiceProvider services, TributaryConfig config, BatchQueryMetrics metrics) : TributaryTool(ReadOnlyTool(
    ToolName,
    "Run several read-only queries at once",
    "Runs up to 100 reads in one call and returns {results, succeeded, failed, elapsed_ms}: results[i] is {result} or {error} for items[i], in order. " +
    "An item is {source, sql, params?, max_rows?} (exactly as the query tool takes them) or {tool, params?} for a configured read tool (a query, or a GET of an HTTP API). " +
    "Each item is checked and limited as its single call would be, and one that fails does not stop the others. " +
    "A truncated result's next_cursor continues through the query tool.",
    """
    {"type":"object","additionalProperties":false,"required":["items"],"properties":{
      "items":{"type":"array","minItems":1,"maxItems":100,"description":"The reads, each {source, sql, params?, max_rows?} or {tool, params?}","items":{"type":"object","additionalProperties":false,"properties":{
        "source":{"type":"string","description":"Source name, from list_sources"},
        "sql":{"type":"string","description":"Exactly one SELECT statement"},
        "params":{"type":["object","array"],"description":"Query parameters (@name as an object, ? / $1 as an array); for a tool item, the tool's arguments"},
        "max_rows":{"type":"integer","minimum":1,"description":"Rows per page (default per source, usually 500)"},
        "tool":{"type":"string","description":"A configured read tool to call instead of source and sql"}}}}}}
    """,
    """
    {"type":"object","required":["results","succeeded","failed","elapsed_ms"],"properties":{
      "results":{"type":"array","items":{"type":"object","properties":{
        "result":{"type":"object","description":"The item's result, shaped as its single call's (query's, or an HTTP tool's)"},
        "error":{"type":"string","description":"Why the item failed"}}}},
      "succeeded":{"type":"integer"},
      "failed":{"type":"integer"},
      "elapsed_ms":{"type":"number"}}}
    """))
{
    /// <summary>The tool's name.</summary>
    public const string ToolName = "batch_query";

    /// <summary>The most items one call may carry.</summary>
    public const int MaxItems = 100;

    private static readonly string[] QueryItemKeys = ["source", "sql", "params", "max_rows"];

    private readonly Lazy<Collaborators> _collaborators = new(() => new Collaborators(
        services.GetServices<McpServerTool>().OfType<TributaryTool>().Where(t => t is not BatchQueryTool).ToDictionary(t => t.ProtocolTool.Name, StringComparer.Ordinal),
        services.GetRequiredService<Auth.AccessPolicy>(),
        services.GetService<StateStore>(),
        services.GetRequiredService<ILogger<BatchQueryTool>>()));

    /// <inheritdoc />
    public override bool IsVisibleTo(Grants grants) => grants.AllowsAny("sources", "read");

    private protected override async ValueTask ExecuteAsync(ToolArguments arguments, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        if (arguments.Get("items") is not { ValueKind: JsonValueKind.Array } items || items.GetArrayLength() == 0)
        {
            throw new ToolException("'items' is required: an array of 1 to 100 items, each {source, sql, params?, max_rows?} or {tool, params?}");
        }

        if (items.GetArrayLength() > MaxItems)
        {
            throw new ToolException($"batch_query takes at most {MaxItems} items (got {items.GetArrayLength()}): split them into several calls");
        }

        metrics.Calls.Add(1);
        var plans = items.EnumerateArray().Select(item => Plan(item, arguments.Grants)).ToArray();
        // Each call bounds its own items per source; the source's connection limits still apply beneath.
        var limits = plans.Select(p => p.Source).OfType<string>().Distinct(StringComparer.Ordinal)
            .Select(name => config.Sources.FirstOrDefault(s => s.Name == name)).OfType<SourceConfig>()
            .ToDictionary(s => s.Name, s => new SemaphoreSlim(s.BatchConcurrency), StringComparer.Ordinal);
        try
        {
            var runs = plans.Select(plan => Task.Run(() => RunItemAsync(plan, arguments.User, limits, cancellationToken), cancellationToken)).ToArray();
            var outcomes = await Task.WhenAll(runs);
            try
            {
                using var json = new Utf8JsonWriter(output);
                json.WriteStartObject();
                json.WriteStartArray("results"u8);
                foreach (var outcome in outcomes)
                {
                    json.WriteStartObject();
                    if (outcome.Error is { } error)
                    {
                        json.WriteString("error"u8, error);
                    }
                    else
                    {
                        json.WritePropertyName("result"u8);
                        json.WriteRawValue(outcome.Result!.WrittenSpan, skipInputValidation: true);
                    }

                    json.WriteEndObject();
                }

                json.WriteEndArray();
                var failed = outcomes.Count(o => o.Error is not null);
                json.WriteNumber("succeeded"u8, outcomes.Length - failed);
                json.WriteNumber("failed"u8, failed);
                json.WriteNumber("elapsed_ms"u8, Math.Round(Stopwatch.GetElapsedTime(start).TotalMilliseconds, 3));
                json.WriteEndObject();
            }
            finally
            {
                foreach (var outcome in outcomes)
                {
                    outcome.Result?.Dispose();
                }
            }
        }
        finally
        {
            foreach (var limit in limits.Values)
            {
                limit.Dispose();
            }
        }
    }

    /// <summary>What an item asks for: the tool that answers it, its arguments and the source it reads, or why it cannot run.</summary>
    private ItemPlan Plan(JsonElement item, Grants grants)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            return ItemPlan.Failed("an item must be an object: {source, sql, params?, max_rows?} or {tool, params?}");
        }

        var given = item.EnumerateObject().ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);
        var tools = _collaborators.Value.Tools;
        if (given.TryGetValue("tool", out var toolName))
        {
            if (given.Keys.FirstOrDefault(k => k is not ("tool" or "params")) is { } extra)
            {
                return ItemPlan.Failed($"a tool item takes only 'tool' and 'params' (the tool's arguments), not '{extra}'");
            }

            if (toolName.ValueKind != JsonValueKind.String || !tools.TryGetValue(toolName.GetString()!, out var read) || ReadSource(read) is not { } readSource)
            {
                var readTools = tools.Values.Where(t => ReadSource(t) is not null && t.IsVisibleTo(grants)).Select(t => t.ProtocolTool.Name).Order(StringComparer.Ordinal).ToArray();
                var why = toolName.ValueKind != JsonValueKind.String ? "'tool' must be a string" : !tools.TryGetValue(toolName.GetString()!, out var known) ? $"unknown tool '{toolName.GetString()}'"
                    : known is NamedWriteTool ? $"'{known.ProtocolTool.Name}' writes, and batch_query only reads (call it on its own)"
                    : known is NamedHttpTool http ? $"'{known.ProtocolTool.Name}' calls its API with {http.Method}, and batch_query only reads (GET tools; call it on its own)"
                    : $"'{known.ProtocolTool.Name}' is not a configured read tool";
                return ItemPlan.Failed($"{why}: a tool item names a configured read tool ({(readTools.Length == 0 ? "none available" : string.Join(", ", readTools))}); for SQL, give source and sql instead");
            }

            return given.TryGetValue("params", out var parameters) && parameters.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null)
                ? ItemPlan.Failed($"'params' of a tool item must be an object of the arguments of '{read.ProtocolTool.Name}'")
                : new ItemPlan(read, parameters.ValueKind == JsonValueKind.Object ? parameters.EnumerateObject().ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal) : [], readSource, null);
        }

        if (given.Keys.FirstOrDefault(k => !QueryItemKeys.Contains(k)) is { } unknown)
        {
            return ItemPlan.Failed($"unknown key '{unknown}': an item is {{source, sql, params?, max_rows?}} or {{tool, params?}}");
        }

        return new ItemPlan(
            tools[QueryTool.ToolName],
            given,
            given.TryGetValue("source", out var source) && source.ValueKind == JsonValueKind.String ? source.GetString() : null,
            null);
    }

    /// <summary>The source a configured tool reads, when it only reads (a SELECT, or a GET of an HTTP API); null for any other tool.</summary>
    private static string? ReadSource(TributaryTool tool) => tool switch
    {
        NamedQueryTool query => query.Source,
        NamedHttpTool { Method: "GET" } http => http.Source,
        _ => null,
    };

    /// <summary>Runs one item as its single call would run, within its source's share of the batch.</summary>
    private async Task<ItemOutcome> RunItemAsync(ItemPlan plan, System.Security.Claims.ClaimsPrincipal? user, Dictionary<string, SemaphoreSlim> limits, CancellationToken cancellationToken)
    {
        if (plan.Error is { } planError)
        {
            metrics.Items.Add(1, new KeyValuePair<string, object?>("outcome", "error"));
            return new ItemOutcome(null, planError);
        }

        var limit = plan.Source is { } name && limits.TryGetValue(name, out var semaphore) ? semaphore : null;
        var collaborators = _collaborators.Value;
        var result = new PooledBufferWriter();
        ToolOutcome outcome;
        if (limit is not null)
        {
            await limit.WaitAsync(cancellationToken);
        }

        var source = new KeyValuePair<string, object?>("source", plan.Source);
        metrics.ItemsInFlight.Add(1, source);
        try
        {
            outcome = await plan.Tool!.RunAsync(plan.Arguments, user, collaborators.Policy, result, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // One item's failure is its own: the others still answer.
            LogItemFailed(collaborators.Logger, plan.Tool!.ProtocolTool.Name, e);
            outcome = new ToolOutcome($"this item failed inside Tributary ({e.GetType().Name}); the other items are unaffected", null);
        }
        finally
        {
            metrics.ItemsInFlight.Add(-1, source);
            limit?.Release();
        }

        metrics.Items.Add(1, new KeyValuePair<string, object?>("outcome", outcome.Error is null ? "ok" : "error"));
        if (outcome.DeniedScope is { } scope && user is not null)
        {
            // A single call denied over HTTP is logged and audited by the gate before it reaches the tool; an item is here.
            var principal = user.Identity?.Name ?? "unknown";
            LogDenied(collaborators.Logger, principal, scope);
            collaborators.Audit?.Append(new AuditEntry(DateTimeOffset.UtcNow, principal, "auth.denied", scope, null, null, 0, null, null, null));
        }

        if (outcome.Error is { } error)
        {
            result.Dispose();
            return new ItemOutcome(null, error);
        }

        return new ItemOutcome(result, null);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Denied {Principal}: needs scope {Scope} (a batch_query item)")]
    private static partial void LogDenied(ILogger logger, string principal, string scope);

    [LoggerMessage(Level = LogLevel.Error, Message = "A batch_query item of {Tool} failed")]
    private static partial void LogItemFailed(ILogger logger, string tool, Exception error);

    private sealed record Collaborators(Dictionary<string, TributaryTool> Tools, Auth.AccessPolicy Policy, StateStore? Audit, ILogger Logger);

    private sealed record ItemPlan(TributaryTool? Tool, Dictionary<string, JsonElement> Arguments, string? Source, string? Error)
    {
        public static ItemPlan Failed(string error) => new(null, [], null, error);
    }

    private sealed record ItemOutcome(PooledBufferWriter? Result, string? Error);
}

/// <summary>
/// <c>batch_query</c>'s instruments on the meter <see cref="MeterName"/>: calls, items by outcome, and items running at
/// the moment by source (the per-source bound is visible there).
/// </summary>
public sealed class BatchQueryMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Tributary.Server";

    /// <summary>Creates the instruments through <paramref name="meters"/>.</summary>
    public BatchQueryMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        Calls = meter.CreateCounter<long>("tributary.batch_query.calls", "{call}", "batch_query calls that ran their items");
        Items = meter.CreateCounter<long>("tributary.batch_query.items", "{item}", "batch_query items answered, by outcome (ok, error)");
        ItemsInFlight = meter.CreateUpDownCounter<long>("tributary.batch_query.items_in_flight", "{item}", "batch_query items running now, by source");
    }

    /// <summary>batch_query calls that ran their items.</summary>
    public Counter<long> Calls { get; }

    /// <summary>Items answered, tagged <c>outcome</c> ok or error.</summary>
    public Counter<long> Items { get; }

    /// <summary>Items running now, tagged <c>source</c>.</summary>
    public UpDownCounter<long> ItemsInFlight { get; }
}
