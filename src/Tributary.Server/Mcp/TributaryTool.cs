using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tributary.Core;
using Tributary.Core.Security;
using Tributary.Core.Writes;

namespace Tributary.Server.Mcp;

/// <summary>
/// Base of Tributary's tools: a fixed protocol description, JSON produced once and sent both as
/// <c>structuredContent</c> and as text, and <see cref="ToolException"/> turned into a tool error the model can act on.
/// Each tool says which scope a call needs (<see cref="RequiredScope"/>) and to whom it is listed (<see cref="IsVisibleTo"/>);
/// a call without that scope is refused before it runs.
/// </summary>
public abstract class TributaryTool : McpServerTool
{
    /// <summary>Creates the tool from its protocol description.</summary>
    protected TributaryTool(Tool tool) => ProtocolTool = tool;

    /// <inheritdoc />
    public override Tool ProtocolTool { get; }

    /// <inheritdoc />
    public override IReadOnlyList<object> Metadata => [];

    /// <inheritdoc />
    public override async ValueTask<CallToolResult> InvokeAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var output = new PooledBufferWriter();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var outcome = await RunAsync(request.Params?.Arguments, request.User, request.Services?.GetService<Auth.AccessPolicy>(), output, cancellationToken);
        request.Services?.GetService<Observability.TributaryMetrics>()?.ToolCalled(ProtocolTool.Name, outcome.Error is null, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        return outcome.Error is { } error ? Error(WithTrace(error)) : new CallToolResult
        {
            Content = [new TextContentBlock { Text = Encoding.UTF8.GetString(output.WrittenSpan) }],
            StructuredContent = JsonElement.Parse(output.WrittenSpan),
        };
    }

    /// <summary>
    /// Runs one call as <paramref name="user"/>: the scope check of <paramref name="policy"/>, then the work, whose JSON
    /// goes to <paramref name="output"/>. A failure the model can act on comes back as the outcome's error text (and
    /// <paramref name="output"/> then holds nothing useful); <c>tools/call</c> and <c>batch_query</c> items both come here.
    /// </summary>
    internal async ValueTask<ToolOutcome> RunAsync(IDictionary<string, JsonElement>? arguments, System.Security.Claims.ClaimsPrincipal? user, Auth.AccessPolicy? policy, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        try
        {
            var grants = Grants.All;
            if (policy is { Enabled: true })
            {
                policy.Demand(user, RequiredScope(arguments as IReadOnlyDictionary<string, JsonElement> ?? arguments?.ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal)));
                grants = policy.For(user);
            }

            await ExecuteAsync(new ToolArguments(arguments, user, grants), output, cancellationToken);
            return default;
        }
        catch (WriteConflictException e)
        {
            return new ToolOutcome(ConflictJson(e), null);
        }
        catch (Auth.AccessDeniedException e)
        {
            return new ToolOutcome(e.Message, e.Scope);
        }
        catch (ToolException e)
        {
            return new ToolOutcome(e.Message, null);
        }
    }

    /// <summary>The scope a call with <paramref name="arguments"/> needs; null when any caller may make it.</summary>
    public virtual string? RequiredScope(IReadOnlyDictionary<string, JsonElement>? arguments) => null;

    /// <summary>True when <c>tools/list</c> shows the tool to a caller with <paramref name="grants"/>.</summary>
    public virtual bool IsVisibleTo(Grants grants) => true;

    /// <summary>A string argument, or null when it is missing or not a string.</summary>
    protected static string? StringArgument(IReadOnlyDictionary<string, JsonElement>? arguments, string name) =>
        arguments is not null && arguments.TryGetValue(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>A conflict as JSON the model can act on: what happened, and the row and version as they are now.</summary>
    private static string ConflictJson(WriteConflictException conflict)
    {
        using var output = new PooledBufferWriter();
        using (var json = new Utf8JsonWriter(output))
        {
            json.WriteStartObject();
            json.WriteString("error"u8, "conflict"u8);
            json.WriteString("message"u8, conflict.Message);
            json.WritePropertyName("current_version"u8);
            conflict.CurrentVersion.WriteTo(json);
            json.WritePropertyName("current_row"u8);
            conflict.CurrentRow.WriteTo(json);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    /// <summary>A plain-text error with the request's trace id, so that a report of it leads to the trace (a JSON error stays as it is).</summary>
    private static string WithTrace(string error) =>
        System.Diagnostics.Activity.Current is { } activity && !error.StartsWith('{') ? $"{error} (trace {activity.TraceId})" : error;

    /// <summary>A tool error result with <paramref name="message"/>.</summary>
    public static CallToolResult Error(string message) => new()
    {
        IsError = true,
        Content = [new TextContentBlock { Text = message }],
    };

    /// <summary>Does the work and writes the result as UTF-8 JSON to <paramref name="output"/>.</summary>
    private protected abstract ValueTask ExecuteAsync(ToolArguments arguments, IBufferWriter<byte> output, CancellationToken cancellationToken);

    /// <summary>Builds a protocol tool description for a tool that writes, with honest annotations.</summary>
    protected static Tool WriteTool(string name, string title, string description, string inputSchema, string outputSchema, bool destructive, bool idempotent) =>
        Describe(name, title, description, inputSchema, outputSchema, readOnly: false, destructive, idempotent);

    /// <summary>Builds a protocol tool description with read-only, closed-world annotations.</summary>
    protected static Tool ReadOnlyTool(string name, string title, string description, string inputSchema, string outputSchema) =>
        Describe(name, title, description, inputSchema, outputSchema, readOnly: true, destructive: false, idempotent: true);

    private static Tool Describe(string name, string title, string description, string inputSchema, string outputSchema, bool readOnly, bool destructive, bool idempotent) => new()
    {
        Name = name,
        Title = title,
        Description = description,
        InputSchema = JsonElement.Parse(inputSchema),
        OutputSchema = JsonElement.Parse(outputSchema),
        Annotations = new ToolAnnotations
        {
            Title = title,
            ReadOnlyHint = readOnly,
            DestructiveHint = destructive,
            IdempotentHint = idempotent,
            OpenWorldHint = false,
        },
    };
}

/// <summary>How a tool call ended: success (no <paramref name="Error"/>), or the error text the model sees and, for a denial, the scope that was missing.</summary>
internal readonly record struct ToolOutcome(string? Error, string? DeniedScope);
