using System.Text.Json;
using System.Text.RegularExpressions;
using Tributary.Core;

namespace Tributary.Topics;

/// <summary>How serious an event is, in increasing order.</summary>
public enum Severity
{
    /// <summary>Detail for debugging.</summary>
    Debug,

    /// <summary>Normal activity.</summary>
    Info,

    /// <summary>Something to look at.</summary>
    Warning,

    /// <summary>Something failed.</summary>
    Error,

    /// <summary>Something failed badly.</summary>
    Critical,
}

/// <summary>Names of severities as they appear in events, filters and log lines.</summary>
public static class Severities
{
    /// <summary>The name written for <paramref name="severity"/>.</summary>
    public static string Name(Severity severity) => severity switch
    {
        Severity.Debug => "debug",
        Severity.Info => "info",
        Severity.Warning => "warning",
        Severity.Error => "error",
        _ => "critical",
    };

    /// <summary>Reads a severity name (debug, info, warn or warning, error, critical or fatal; any case).</summary>
    public static bool TryParse(string? text, out Severity severity)
    {
        severity = (text ?? "").Trim().ToLowerInvariant() switch
        {
            "debug" or "trace" => Severity.Debug,
            "info" or "information" or "notice" => Severity.Info,
            "warn" or "warning" => Severity.Warning,
            "error" or "err" => Severity.Error,
            "critical" or "crit" or "fatal" => Severity.Critical,
            _ => (Severity)(-1),
        };
        return severity >= Severity.Debug;
    }
}

/// <summary>An event as stored: its sequence number is the cursor that readers resume from.</summary>
/// <param name="Sequence">Position in the log; increases with every append, across topics.</param>
/// <param name="Topic">The topic it belongs to.</param>
/// <param name="Type">What happened, such as <c>order.created</c>.</param>
/// <param name="Source">Who reported it, such as <c>publish_event</c> or a webhook.</param>
/// <param name="Severity">How serious it is.</param>
/// <param name="Time">When it was appended.</param>
/// <param name="Data">Its JSON payload.</param>
/// <param name="TraceId">A trace id that links it to other events and requests, or null.</param>
public sealed record TopicEvent(long Sequence, string Topic, string Type, string Source, Severity Severity, DateTimeOffset Time, JsonElement Data, string? TraceId)
{
    /// <summary>An event time as stored and shown: UTC, to the microsecond, such as <c>2026-01-31T12:00:00.123456Z</c>.</summary>
    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>An event to append.</summary>
public sealed partial record NewEvent(string Topic, string Type, string Source, Severity Severity, JsonElement Data, string? TraceId = null)
{
    /// <summary>Where an ingest stands once this event is stored (a file offset, a feed's event id); kept atomically with the event.</summary>
    public IngestPosition? Position { get; init; }

    /// <summary>Largest payload accepted, in bytes of JSON.</summary>
    public const int MaxDataBytes = 256 * 1024;

    /// <summary>Checks an event's parts and makes it; a bad part is a <see cref="ToolException"/> that says what to change.</summary>
    public static NewEvent Create(string topic, string type, JsonElement? data, string? severity, string? traceId, string source)
    {
        if (!TypeRegex().IsMatch(type))
        {
            throw new ToolException("'type' must be 1 to 100 letters, digits and _ . : - (such as order.flagged)");
        }

        if (data is not { } payload)
        {
            throw new ToolException("'data' is required: the event's JSON payload");
        }

        if (payload.GetRawText().Length > MaxDataBytes)
        {
            throw new ToolException($"'data' is over {MaxDataBytes / 1024} KiB of JSON: publish a smaller payload (a reference to the rest)");
        }

        var level = Severity.Info;
        if (severity is not null && !Severities.TryParse(severity, out level))
        {
            throw new ToolException("'severity' must be one of debug, info, warning, error, critical");
        }

        if (traceId is { Length: > 64 })
        {
            throw new ToolException("'trace_id' must have at most 64 characters");
        }

        return new NewEvent(topic, type, source, level, payload.Clone(), traceId);
    }

    [GeneratedRegex("^[A-Za-z0-9_.:-]{1,100}$")]
    private static partial Regex TypeRegex();
}

/// <summary>A named ingest position (such as <c>tail:logs:/var/log/app.log</c>) and its value, stored with an event so that a restart resumes exactly after it.</summary>
/// <param name="Name">Which ingest it belongs to.</param>
/// <param name="Value">Where it stands, in the ingest's own terms.</param>
public sealed record IngestPosition(string Name, string Value);
