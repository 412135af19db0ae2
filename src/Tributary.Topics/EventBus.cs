using System.Collections.Concurrent;

namespace Tributary.Topics;

/// <summary>The in-process <see cref="IEventBus"/>: one signal per topic, replaced on every announcement.</summary>
public sealed class EventBus : IEventBus
{
    private readonly ConcurrentDictionary<string, Signal> _topics = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public void Announce(string topic, long sequence)
    {
        var signal = _topics.GetOrAdd(topic, _ => new Signal());
        TaskCompletionSource fired;
        lock (signal)
        {
            if (sequence <= signal.Last)
            {
                return;
            }

            signal.Last = sequence;
            fired = signal.Next;
            signal.Next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        fired.TrySetResult();
    }

    /// <inheritdoc />
    public async Task<long?> WaitAsync(string topic, long after, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var signal = _topics.GetOrAdd(topic, _ => new Signal());
        var forever = timeout == Timeout.InfiniteTimeSpan;
        var until = forever ? long.MaxValue : System.Diagnostics.Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        while (true)
        {
            Task next;
            lock (signal)
            {
                if (signal.Last > after)
                {
                    return signal.Last;
                }

                next = signal.Next.Task;
            }

            if (forever)
            {
                // No timer: many long-lived waiters (subscriptions) cost nothing until their topic moves.
                await next.WaitAsync(cancellationToken);
                continue;
            }

            var left = System.Diagnostics.Stopwatch.GetElapsedTime(System.Diagnostics.Stopwatch.GetTimestamp(), until);
            if (left <= TimeSpan.Zero)
            {
                return null;
            }

            try
            {
                await next.WaitAsync(left, cancellationToken);
            }
            catch (TimeoutException)
            {
                return null;
            }
        }
    }

    private sealed class Signal
    {
        public long Last { get; set; }

        public TaskCompletionSource Next { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
