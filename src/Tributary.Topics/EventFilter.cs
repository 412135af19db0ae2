using System.Text.Json;
using System.Text.RegularExpressions;
using Tributary.Core;

namespace Tributary.Topics;

/// <summary>
/// Which events a reader wants: any of <see cref="Types"/>, from <see cref="Source"/>, at least <see cref="MinSeverity"/>,
/// whose message matches <see cref="Message"/>, and whose data fields equal <see cref="Fields"/>. Empty parts match all.
/// </summary>
public sealed record EventFilter
{
    /// <summary>How long one regular expression match may take before the read fails.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(50);

    /// <summary>Event types to keep; empty for all.</summary>
    public IReadOnlyList<string> Types { get; init; } = [];

    /// <summary>Only events from this source.</summary>
    public string? Source { get; init; }

    /// <summary>Only events at least this serious.</summary>
    public Severity? MinSeverity { get; init; }

    /// <summary>A regular expression the event's message (<c>data.message</c>, else its JSON) must match.</summary>
    public Regex? Message { get; init; }

    /// <summary>Data fields (dotted paths) and the JSON values they must equal.</summary>
    public IReadOnlyDictionary<string, JsonElement> Fields { get; init; } = new Dictionary<string, JsonElement>();

    /// <summary>A filter that keeps everything.</summary>
    public static EventFilter All { get; } = new();

    /// <summary>Compiles <paramref name="pattern"/> with the match timeout; a bad pattern is a <see cref="ToolException"/>.</summary>
    public static Regex Pattern(string pattern)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant, MatchTimeout);
        }
        catch (ArgumentException e)
        {
            throw new ToolException($"filter.message is not a valid regular expression: {e.Message}");
        }
    }

    /// <summary>True when <paramref name="e"/> passes every part of the filter.</summary>
    public bool Matches(TopicEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (Types.Count > 0 && !Types.Contains(e.Type, StringComparer.Ordinal))
        {
            return false;
        }

        if (Source is not null && !string.Equals(Source, e.Source, StringComparison.Ordinal))
        {
            return false;
        }

        if (MinSeverity is { } minimum && e.Severity < minimum)
        {
            return false;
        }

        foreach (var (path, expected) in Fields)
        {
            if (Field(e.Data, path) is not { } actual || !JsonElement.DeepEquals(actual, expected))
            {
                return false;
            }
        }

        if (Message is { } pattern)
        {
            var text = e.Data.ValueKind == JsonValueKind.Object && e.Data.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String
                ? message.GetString()!
                : e.Data.GetRawText();
            try
            {
                return pattern.IsMatch(text);
            }
            catch (RegexMatchTimeoutException)
            {
                throw new ToolException($"filter.message took longer than {MatchTimeout.TotalMilliseconds:0} ms on one event and was stopped: simplify the regular expression");
            }
        }

        return true;
    }

    private static JsonElement? Field(JsonElement data, string path)
    {
        var current = data;
        foreach (var part in path.Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(part, out current))
            {
                return null;
            }
        }

        return current;
    }
}
