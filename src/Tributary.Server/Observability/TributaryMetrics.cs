using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Tributary.Server.Observability;

/// <summary>
/// The server's own instruments on the <c>Tributary.Server</c> meter: tool calls and their duration by tool and outcome,
/// topic events handed out to readers, notifications sent to subscribers, and live subscriptions.
/// </summary>
public sealed class TributaryMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Tributary.Server";

    private readonly Counter<long> _calls;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _eventsOut;
    private readonly Counter<long> _notifications;

    /// <summary>Creates the instruments through <paramref name="meters"/>; <paramref name="liveSubscriptions"/> reads the current count.</summary>
    public TributaryMetrics(IMeterFactory meters, Func<int>? liveSubscriptions = null)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        _calls = meter.CreateCounter<long>("tributary.tool.calls", "{call}", "Tool calls, by tool and outcome (ok, error)");
        _duration = meter.CreateHistogram<double>("tributary.tool.duration", "s", "How long tool calls took, by tool and outcome");
        _eventsOut = meter.CreateCounter<long>("tributary.events.out", "{event}", "Topic events handed out by read_events, by topic");
        _notifications = meter.CreateCounter<long>("tributary.notifications.sent", "{notification}", "Update notifications sent to subscribers, by topic");
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

    /// <summary>Records one notification sent.</summary>
    public void Notified(string topic) => _notifications.Add(1, new KeyValuePair<string, object?>("topic", topic));
}
