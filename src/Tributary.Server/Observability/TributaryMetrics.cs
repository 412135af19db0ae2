using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Tributary.Server.Observability;

/// <summary>
/// The server's own instruments on the <c>Tributary.Server</c> meter: tool calls and their duration by tool and outcome,
/// topic events handed out to readers, notifications sent to subscribers, live subscriptions, and query results served
/// from the result cache or by running the query (the hit ratio of <c>tributary_query_cache_lookups_total</c>).
/// </summary>
public sealed class TributaryMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Tributary.Server";

    private readonly Counter<long> _calls;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _eventsOut;
    private readonly Counter<long> _notifications;
    private readonly Counter<long> _cacheLookups;

    /// <summary>Creates the instruments through <paramref name="meters"/>; <paramref name="liveSubscriptions"/> reads the current count.</summary>
    public TributaryMetrics(IMeterFactory meters, Func<int>? liveSubscriptions = null)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        _calls = meter.CreateCounter<long>("tributary.tool.calls", "{call}", "Tool calls, by tool and outcome (ok, error)");
        _duration = meter.CreateHistogram<double>("tributary.tool.duration", "s", "How long tool calls took, by tool and outcome");
        _eventsOut = meter.CreateCounter<long>("tributary.events.out", "{event}", "Topic events handed out by read_events, by topic");
        _notifications = meter.CreateCounter<long>("tributary.notifications.sent", "{notification}", "Update notifications sent to subscribers, by topic");
        _cacheLookups = meter.CreateCounter<long>("tributary.query.cache_lookups", "{lookup}", "Query results of cached sources and tools, by source and cache outcome (hit: served from the cache; miss: the query ran)");
        if (liveSubscriptions is not null)
        {
            meter.CreateObservableGauge("tributary.subscriptions.active", liveSubscriptions, "{subscription}", "Subscriptions held open now");
        }
    }

    /// <summary>Records one tool call.</summary>
    public void ToolCalled(string tool, bool ok, TimeSpan elapsed)
    {
        var tags = new TagList { { "tool", tool }, { "outcome", ok ? "ok" : "error" } };
        _calls.Add(1, tags);
        _duration.Record(elapsed.TotalSeconds, tags);
    }

    /// <summary>Records events handed to a reader.</summary>
    public void EventsRead(string topic, int count)
    {
        if (count > 0)
        {
            _eventsOut.Add(count, new KeyValuePair<string, object?>("topic", topic));
        }
    }

    /// <summary>Records one query result of a cached source or tool: served from the cache (<paramref name="hit"/>) or by running the query.</summary>
    public void CacheLookup(string source, bool hit) =>
        _cacheLookups.Add(1, new KeyValuePair<string, object?>("source", source), new KeyValuePair<string, object?>("cache", hit ? "hit" : "miss"));

    /// <summary>Records one notification sent.</summary>
    public void Notified(string topic) => _notifications.Add(1, new KeyValuePair<string, object?>("topic", topic));
}
