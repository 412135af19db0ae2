using System.Diagnostics.Metrics;

namespace Tributary.Sources.Sql;

/// <summary>
/// The <c>Tributary.Sources.Sql</c> meter: <c>tributary.sql.read_retries</c>, reads tried again after a transient
/// database error (SQLite: a lock held past <c>busy_timeout</c>; PostgreSQL: a dropped connection), by source.
/// </summary>
public static class SqlSourceMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Tributary.Sources.Sql";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> Retries = Meter.CreateCounter<long>("tributary.sql.read_retries", "{retry}", "Reads tried again after a transient database error, by source");

    internal static void Retried(string source) => Retries.Add(1, new KeyValuePair<string, object?>("source", source));
}
