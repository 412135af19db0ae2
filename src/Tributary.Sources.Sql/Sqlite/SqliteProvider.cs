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
    };

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
