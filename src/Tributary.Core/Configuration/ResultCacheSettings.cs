using System.Globalization;

namespace Tributary.Core.Configuration;

/// <summary>
/// A SQL source's result cache, from its <c>cache_ttl</c> and <c>cache_max_entries</c> settings: how long a query's
/// result is served again without running it, and how many results the source keeps.
/// </summary>
public sealed record ResultCacheSettings
{
    /// <summary>The longest <c>cache_ttl</c> accepted.</summary>
    public static readonly TimeSpan MaxTtl = TimeSpan.FromDays(1);

    /// <summary>The default <c>cache_max_entries</c>.</summary>
    public const int DefaultMaxEntries = 1000;

    /// <summary>The settings a SQL provider accepts for its result cache, with what each means.</summary>
    public static IReadOnlyDictionary<string, string> SettingKeys { get; } = new Dictionary<string, string>
    {
        ["cache_ttl"] = "how long a query result is served again without running the query, such as 30s (default 0s: results are not cached)",
        ["cache_max_entries"] = "most query results kept for the source; the least recently used go first (default 1000)",
    };

    /// <summary>
    /// The tag of a source's cached results that any change of the source drops: results whose tables are unknown, and
    /// an HTTP API's answers (servers sharing <c>server.redis</c> tell each other of such changes).
    /// </summary>
    public static string AnyChangeTag(string source) => $"{source}:(unknown)";

    /// <summary>How long a result is served without running the query again; default zero: no caching.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.Zero;

    /// <summary>Most results kept for the source; default 1000.</summary>
    public int MaxEntries { get; init; } = DefaultMaxEntries;

    /// <summary>Reads the settings of <paramref name="source"/>, reporting each bad value to <paramref name="errors"/> under its key.</summary>
    public static ResultCacheSettings Read(SourceConfig source, ConfigErrors errors)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(errors);
        var settings = new ResultCacheSettings();
        if (source.Settings.TryGetValue("cache_ttl", out var ttl))
        {
            settings = settings with { Ttl = ParseTtl(ttl, source.Path + ".cache_ttl", errors) ?? settings.Ttl };
        }

        if (source.Settings.TryGetValue("cache_max_entries", out var entries))
        {
            if (int.TryParse(entries.Replace("_", "", StringComparison.Ordinal), NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count is >= 1 and <= 1_000_000)
            {
                settings = settings with { MaxEntries = count };
            }
            else
            {
                errors.Add(source.Path + ".cache_max_entries", $"'{entries}' is not a number of results from 1 to 1000000");
            }
        }

        return settings;
    }

    /// <summary>A <c>cache_ttl</c> from 0s (off) to a day; anything else is reported at <paramref name="path"/> (null, already reported, is passed on).</summary>
    public static TimeSpan? ParseTtl(string? text, string path, ConfigErrors errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (text is null)
        {
            return null;
        }

        if (DurationParser.TryParse(text, out var ttl) && ttl >= TimeSpan.Zero && ttl <= MaxTtl)
        {
            return ttl;
        }

        errors.Add(path, $"'{text}' is not a duration from 0s (no caching) to 1d, such as 30s or 10m");
        return null;
    }
}
