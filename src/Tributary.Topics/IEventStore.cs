namespace Tributary.Topics;

/// <summary>
/// Where topics' events are kept, in order and durably. The embedded store is SQLite; a shared store (Redis Streams)
/// implements the same contract for several nodes.
/// </summary>
public interface IEventStore : IAsyncDisposable
{
    /// <summary>Appends an event; the returned sequence number is durable once the task completes.</summary>
    Task<TopicEvent> AppendAsync(NewEvent newEvent, CancellationToken cancellationToken);

    /// <summary>Events of <paramref name="topic"/> after <paramref name="after"/>, oldest first, at most <paramref name="limit"/> that pass <paramref name="filter"/>.</summary>
    Task<IReadOnlyList<TopicEvent>> ReadAsync(string topic, long after, int limit, EventFilter filter, CancellationToken cancellationToken);

    /// <summary>The newest <paramref name="limit"/> events of <paramref name="topic"/> that pass <paramref name="filter"/>, oldest first.</summary>
    Task<IReadOnlyList<TopicEvent>> ReadLatestAsync(string topic, int limit, EventFilter filter, CancellationToken cancellationToken);

    /// <summary>The sequence number of the newest event in the whole log (0 when empty): no valid cursor is beyond it.</summary>
    Task<long> LastSequenceAsync(CancellationToken cancellationToken);

    /// <summary>The value of the newest <see cref="NewEvent.Position"/> stored under <paramref name="name"/>, or null.</summary>
    Task<string?> ReadPositionAsync(string name, CancellationToken cancellationToken);
}

/// <summary>
/// Tells readers in this process that a topic has new events. A cross-node bus implements the same contract over Redis.
/// </summary>
public interface IEventBus
{
    /// <summary>Announces that <paramref name="topic"/> has events up to <paramref name="sequence"/>.</summary>
    void Announce(string topic, long sequence);

    /// <summary>
    /// Completes when <paramref name="topic"/> has an event after <paramref name="after"/>, with the newest sequence
    /// announced for it; or with null when <paramref name="timeout"/> passes first (never with <see cref="Timeout.InfiniteTimeSpan"/>).
    /// </summary>
    Task<long?> WaitAsync(string topic, long after, TimeSpan timeout, CancellationToken cancellationToken);
}
