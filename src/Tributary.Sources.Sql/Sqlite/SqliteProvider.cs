using Tributary.Core.Configuration;
using Tributary.Core.Sources;

namespace Tributary.Sources.Sql.Sqlite;

/// <summary>The <c>sqlite</c> provider: a SQLite database file, always opened read-only.</summary>
public sealed class SqliteProvider : ISourceProvider
{
    /// <summary>The provider's name in configuration.</summary>
    public const string KindName = "sqlite";

    /// <inheritdoc />
    public string Kind => KindName;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> SettingKeys { get; } = new Dictionary<string, string>(ResultCacheSettings.SettingKeys)
    {
        ["path"] = "path of the database file (relative to the configuration file)",
        ["busy_timeout"] = "how long a read or write waits while another program holds the database locked, such as 5s (default 5s); a read still locked is tried twice more",
    };

    /// <summary>The source's <c>busy_timeout</c> (validated by <see cref="Validate"/>), or 5 s.</summary>
    internal static TimeSpan BusyTimeout(SourceConfig source) =>
        source.Settings.TryGetValue("busy_timeout", out var text) && DurationParser.TryParse(text, out var timeout) ? timeout : TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    public void Validate(SourceConfig source, SourceContext context, ConfigErrors errors)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(errors);
        _ = ResultCacheSettings.Read(source, errors);
        if (!source.Settings.TryGetValue("path", out var path) || string.IsNullOrWhiteSpace(path))
        {
            errors.Add(source.Path + ".path", "missing: give the path of the SQLite database file, such as ./shop.db");
            return;
        }

        if (source.Settings.TryGetValue("busy_timeout", out var busy) && (!DurationParser.TryParse(busy, out var timeout) || timeout < TimeSpan.Zero || timeout > TimeSpan.FromMinutes(1)))
        {
            errors.Add(source.Path + ".busy_timeout", $"'{busy}' is not a duration from 0s to 1m, such as 5s or 500ms");
        }

        var full = context.ResolvePath(path);
        if (!File.Exists(full))
        {
            errors.Add(source.Path + ".path", $"no file at '{full}': check the path (relative paths start at the configuration file's folder)");
        }
    }

    /// <inheritdoc />
    public IDataSource Create(SourceConfig source, SourceContext context)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(context);
        return new SqliteSource(source, context.ResolvePath(source.Settings["path"]));
    }
}
