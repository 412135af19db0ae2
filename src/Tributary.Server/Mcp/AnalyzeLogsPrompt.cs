using Microsoft.Extensions.DependencyInjection;
using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Topics;

namespace Tributary.Server.Mcp;

/// <summary>
/// <c>analyze_logs {topic, severity?, since?}</c>: a prompt that embeds a topic's recent matching events (newest 200 at
/// or above the severity, default warning, since a time or a duration ago) and asks for an analysis.
/// </summary>
internal sealed class AnalyzeLogsPrompt(TopicRegistry topics, IEventStore store) : McpServerPrompt
{
    /// <summary>The prompt's name.</summary>
    public const string PromptName = "analyze_logs";

    private const int MaxEvents = 200;

    /// <inheritdoc />
    public override Prompt ProtocolPrompt { get; } = new()
    {
        Name = PromptName,
        Title = "Analyze a topic's recent events",
        Description = "Embeds a topic's recent events at or above a severity and asks for an analysis: what happened, patterns, likely causes, what to check next.",
        Arguments =
        [
            new PromptArgument { Name = "topic", Description = "The topic, such as logs", Required = true },
            new PromptArgument { Name = "severity", Description = "Lowest severity to include: debug, info, warning (default), error, critical" },
            new PromptArgument { Name = "since", Description = "Only events since this time (2026-01-31T12:00:00Z) or this long ago (30m, 2h, 1d)" },
        ],
    };

    /// <inheritdoc />
    public override IReadOnlyList<object> Metadata => [];

    /// <inheritdoc />
    public override async ValueTask<GetPromptResult> GetAsync(RequestContext<GetPromptRequestParams> request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var arguments = request.Params?.Arguments ?? new Dictionary<string, JsonElement>();
        try
        {
            var topic = topics.Get(Argument(arguments, "topic") ?? throw new ToolException("'topic' is required")).Name;
            request.Services?.GetService<Auth.AccessPolicy>()?.Demand(request.User, Tributary.Core.Security.Grants.Topic(topic, "read"));
            var severity = Severity.Warning;
            if (Argument(arguments, "severity") is { } level && !Severities.TryParse(level, out severity))
            {
                throw new ToolException("'severity' must be one of debug, info, warning, error, critical");
            }

            var since = Since(Argument(arguments, "since"));
            var events = (await store.ReadLatestAsync(topic, MaxEvents, new EventFilter { MinSeverity = severity }, cancellationToken))
                .Where(e => since is null || e.Time >= since).ToList();
            var buffer = new ArrayBufferWriter<byte>();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartArray();
                foreach (var e in events)
                {
                    ReadEventsTool.WriteEvent(json, e);
                }

                json.WriteEndArray();
            }

            var text = new StringBuilder()
                .Append(CultureInfo.InvariantCulture, $"Analyze these {events.Count} event(s) of the topic '{topic}' at severity {Severities.Name(severity)} or above")
                .Append(since is { } from ? $", since {TopicEvent.FormatTime(from)}" : "")
                .Append(". Say what happened, group recurring problems, point out bursts and likely causes, and say what to check next. ")
                .Append("To follow the topic afterwards, call read_events with after = the last seq below.\n\n")
                .Append(Encoding.UTF8.GetString(buffer.WrittenSpan))
                .ToString();
            return new GetPromptResult
            {
                Description = $"Recent {Severities.Name(severity)}+ events of '{topic}'",
                Messages = [new PromptMessage { Role = Role.User, Content = new TextContentBlock { Text = text } }],
            };
        }
        catch (ToolException e)
        {
            throw new McpProtocolException(e.Message, McpErrorCode.InvalidParams);
        }
    }

    /// <summary>A non-empty string argument of a prompt, or null (shared with the other prompts).</summary>
    internal static string? Argument(IDictionary<string, JsonElement> arguments, string name) =>
        arguments.TryGetValue(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text ? text : null;

    private static DateTimeOffset? Since(string? text)
    {
        if (text is null)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
        {
            return time;
        }

        return DurationParser.TryParse(text, out var ago) && ago > TimeSpan.Zero
            ? DateTimeOffset.UtcNow - ago
            : throw new ToolException("'since' must be a time (2026-01-31T12:00:00Z) or a duration (30m, 2h, 1d)");
    }
}
