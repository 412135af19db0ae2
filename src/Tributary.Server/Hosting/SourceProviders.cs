using Tributary.Core.Sources;
using Tributary.Sources.Http;
using Tributary.Sources.Sql.Postgres;
using Tributary.Sources.Sql.Sqlite;

namespace Tributary.Server.Hosting;

/// <summary>The source providers this build of Tributary knows; a new provider family is added here, not in the core.</summary>
public static class SourceProviders
{
    /// <summary>Every provider, one per kind.</summary>
    public static IReadOnlyList<ISourceProvider> All { get; } = [new SqliteProvider(), new PostgresProvider(), new HttpProvider()];
}
