using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tributary.Topics.Ingest;

/// <summary>Turns a log line into an event's severity and data: JSON lines, <c>level=</c> (logfmt) and <c>[ERROR]</c>-style lines.</summary>
public static partial class LogLine
{
    private static readonly string[] LevelFields = ["level", "severity", "lvl", "log.level"];

    /// <summary>The line's severity (info when it names none) and its data: the JSON object itself, or <c>{"message": line}</c>.</summary>
    public static (Severity Severity, JsonElement Data) Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var trimmed = line.TrimStart();
        if (trimmed.StartsWith('{'))
        {
            try
            {
                var json = JsonElement.Parse(trimmed);
                if (json.ValueKind == JsonValueKind.Object)
                {
                    foreach (var field in LevelFields)
                    {
                        if (json.TryGetProperty(field, out var level) && level.ValueKind == JsonValueKind.String && Severities.TryParse(level.GetString(), out var parsed))
                        {
                            return (parsed, json);
                        }
                    }

                    return (Severity.Info, json);
                }
            }
            catch (JsonException)
            {
                // Not JSON after all: a plain line.
            }
        }

        var severity = Severity.Info;
        var match = LogfmtLevelRegex().Match(line);
        if (!match.Success)
        {
            match = BracketLevelRegex().Match(line);
        }

        if (match.Success && Severities.TryParse(match.Groups["level"].Value, out var found))
        {
            severity = found;
        }

        return (severity, JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["message"] = line }, TopicsJsonContext.Default.DictionaryStringString));
    }

    [GeneratedRegex(@"(?:^|\s)(?:level|lvl|severity)=""?(?<level>[A-Za-z]+)", RegexOptions.IgnoreCase, 100)]
    private static partial Regex LogfmtLevelRegex();

    [GeneratedRegex(@"^(?:\S+\s+){0,3}?\[?(?<level>TRACE|DEBUG|INFO|INFORMATION|NOTICE|WARN|WARNING|ERROR|ERR|CRITICAL|CRIT|FATAL)\]?[:\s]", RegexOptions.None, 100)]
    private static partial Regex BracketLevelRegex();
}

/// <summary>Source-generated JSON for the topics' own values.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class TopicsJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
