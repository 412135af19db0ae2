using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Tributary.Sources.Http;

/// <summary>
/// The <c>Tributary.Sources.Http</c> meter: <c>tributary.http.answers</c> (by source and cache outcome: hit, miss,
/// stale; the cache hit ratio is hits over all), <c>tributary.http.failures</c> (calls that ended in an error),
/// <c>tributary.http.circuit_refusals</c> and <c>tributary.http.circuit_open</c> (1 while a source's circuit is open).
/// </summary>
public static class HttpSourceMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Tributary.Sources.Http";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> Answers = Meter.CreateCounter<long>("tributary.http.answers", "{answer}", "fetch answers by source and cache outcome (hit, miss, stale)");
    private static readonly Counter<long> Failures = Meter.CreateCounter<long>("tributary.http.failures", "{call}", "fetch calls that ended in an error, by source");
    private static readonly Counter<long> Refusals = Meter.CreateCounter<long>("tributary.http.circuit_refusals", "{call}", "Calls refused at once because a source's circuit was open");
    private static readonly ConcurrentDictionary<string, int> Open = new(StringComparer.Ordinal);

    static HttpSourceMetrics() =>
        Meter.CreateObservableGauge("tributary.http.circuit_open", () => Open.Select(o => new Measurement<int>(o.Value, new KeyValuePair<string, object?>("source", o.Key))), "{circuit}", "1 while a source's circuit is open");

    internal static void Answered(string source, CacheOutcome outcome) =>
        Answers.Add(1, new KeyValuePair<string, object?>("source", source), new KeyValuePair<string, object?>("cache", outcome switch { CacheOutcome.Hit => "hit", CacheOutcome.Stale => "stale", _ => "miss" }));

    internal static void Failed(string source) => Failures.Add(1, new KeyValuePair<string, object?>("source", source));

    internal static void CircuitRefused(string source) => Refusals.Add(1, new KeyValuePair<string, object?>("source", source));

    internal static void Circuit(string source, bool open) => Open[source] = open ? 1 : 0;
}
