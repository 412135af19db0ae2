using System.Text.RegularExpressions;
using Npgsql;
using Tributary.Core.Configuration;
using Tributary.Core.Sources;

namespace Tributary.Sources.Sql.Postgres;

/// <summary>The <c>postgres</c> provider: a PostgreSQL database reached through Npgsql.</summary>
public sealed partial class PostgresProvider : ISourceProvider
{
    /// <summary>The provider's name in configuration.</summary>
    public const string KindName = "postgres";

    /// <inheritdoc />
    public string Kind => KindName;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> SettingKeys { get; } = new Dictionary<string, string>(ResultCacheSettings.SettingKeys)
    {
        ["connection_string"] = "Npgsql connection string, such as Host=127.0.0.1;Database=shop;Username=reader;Password=${PGPASSWORD}",
        ["schemas"] = "schemas to describe and name tables from, first one unqualified (default: public)",
    };

    /// <inheritdoc />
    public void Validate(SourceConfig source, SourceContext context, ConfigErrors errors)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(errors);
        _ = ResultCacheSettings.Read(source, errors);
        if (!source.Settings.TryGetValue("connection_string", out var connectionString) || string.IsNullOrWhiteSpace(connectionString))
        {
            errors.Add(source.Path + ".connection_string", "missing: give an Npgsql connection string, such as Host=127.0.0.1;Database=shop;Username=reader;Password=${PGPASSWORD}");
        }
        else
        {
            try
            {
                var builder = new NpgsqlConnectionStringBuilder(connectionString);
                if (string.IsNullOrEmpty(builder.Host))
                {
                    errors.Add(source.Path + ".connection_string", "has no Host: add Host=<server> (such as Host=127.0.0.1)");
                }
            }
            catch (ArgumentException e)
            {
                // The message names the bad key; the connection string itself may hold a password and is not repeated.
                errors.Add(source.Path + ".connection_string", $"is not a valid Npgsql connection string: {e.Message}");
            }
        }

        foreach (var schema in Schemas(source))
        {
            if (!SchemaNameRegex().IsMatch(schema))
            {
                errors.Add(source.Path + ".schemas", $"'{schema}' is not a schema name: write names such as public or sales, separated by commas");
            }
        }
    }

    /// <inheritdoc />
    public IDataSource Create(SourceConfig source, SourceContext context)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new PostgresSource(source, source.Settings["connection_string"], Schemas(source));
    }

    /// <summary>The schemas of <paramref name="source"/> (its <c>schemas</c> setting, default <c>public</c>); tables of the first are named unqualified.</summary>
    public static string[] Schemas(SourceConfig source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.Settings.TryGetValue("schemas", out var text) && text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } schemas
            ? schemas
            : ["public"];
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_$]{0,62}$")]
    private static partial Regex SchemaNameRegex();
}
