namespace Tributary.Topics;

/// <summary>How much of a topic is kept: at most <see cref="MaxEvents"/> events, none older than <see cref="MaxAge"/>.</summary>
public sealed record TopicRetention(long MaxEvents, TimeSpan MaxAge)
{
    /// <summary>The default: 100,000 events, 7 days.</summary>
    public static TopicRetention Default { get; } = new(100_000, TimeSpan.FromDays(7));
}
