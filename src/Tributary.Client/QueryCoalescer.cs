using System.Text.Json;

namespace Tributary.Client;

/// <summary>
/// Gathers the first pages of concurrent queries into <c>batch_query</c> calls: a group is sent when it holds
/// <see cref="QueryCoalescing.MaxItems"/> queries or when its first one has waited <see cref="QueryCoalescing.Window"/>.
/// Each caller gets its own page, or its own item's error as a <see cref="TributaryToolException"/> of <c>query</c>
/// (what the single call would have thrown); a failure of the whole call reaches every caller of the group. A group of
/// one, and every query against a server without <c>batch_query</c>, goes as a plain <c>query</c> call.
/// </summary>
internal sealed class QueryCoalescer(TributaryClient client, QueryCoalescing options) : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly HashSet<Task> _sending = [];
    private Group? _open;
    private bool _disposed;

    /// <summary>The first page of the query with <paramref name="arguments"/>, sent alone or with others.</summary>
    public async Task<JsonElement> QueryAsync(Dictionary<string, JsonElement> arguments, CancellationToken cancellationToken)
    {
        if (!await client.OffersBatchQueryAsync().WaitAsync(cancellationToken))
        {
            return await client.CallToolAsync("query", arguments, cancellationToken);
        }

        var pending = new Pending(arguments);
        Group? full = null;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_open is null)
            {
                var group = _open = new Group();
                _ = Task.Delay(options.Window, CancellationToken.None).ContinueWith(_ => SendIfOpen(group), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            _open.Items.Add(pending);
            if (_open.Items.Count >= options.MaxItems)
            {
                full = _open;
                _open = null;
            }
        }

        if (full is not null)
        {
            Send(full);
        }

        // A caller that gives up stops waiting; its item still runs with the rest of its group.
        return await pending.Answer.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Sends the group still open and waits for the groups being sent, so that every caller is answered.</summary>
    public async ValueTask DisposeAsync()
    {
        Group? open;
        lock (_lock)
        {
            _disposed = true;
            (open, _open) = (_open, null);
        }

        if (open is not null)
        {
            Send(open);
        }

        Task[] sending;
        lock (_lock)
        {
            sending = [.. _sending];
        }

        await Task.WhenAll(sending);
    }

    private void SendIfOpen(Group group)
    {
        lock (_lock)
        {
            if (!ReferenceEquals(_open, group))
            {
                return;
            }

            _open = null;
        }

        Send(group);
    }

    private void Send(Group group)
    {
        var sending = SendAsync(group);
        lock (_lock)
        {
            _sending.RemoveWhere(t => t.IsCompleted);
            _sending.Add(sending);
        }
    }

    private async Task SendAsync(Group group)
    {
        var items = group.Items;
        try
        {
            if (items.Count == 1)
            {
                items[0].Answer.TrySetResult(await client.CallToolAsync("query", items[0].Arguments, CancellationToken.None));
                return;
            }

            var results = await client.SendBatchAsync([.. items.Select(i => i.Arguments)], CancellationToken.None);
            for (var i = 0; i < items.Count; i++)
            {
                if (results[i].Error is { } error)
                {
                    items[i].Answer.TrySetException(new TributaryToolException("query", error));
                }
                else
                {
                    items[i].Answer.TrySetResult(results[i].Result);
                }
            }
        }
        catch (Exception e)
        {
            foreach (var item in items)
            {
                item.Answer.TrySetException(e);
            }
        }
    }

    private sealed record Pending(Dictionary<string, JsonElement> Arguments)
    {
        public TaskCompletionSource<JsonElement> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Group
    {
        public List<Pending> Items { get; } = [];
    }
}
