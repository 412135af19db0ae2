using System.Buffers;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Logging;

namespace Tributary.Server.Caching;

/// <summary>
/// The result cache's second level (Redis) as HybridCache sees it, with its failures turned into misses and no-ops: a
/// second level that cannot be reached makes the cache run on memory alone, and never fails a call (a write that has
/// committed must not report an error because its cached results could not be dropped in Redis). While
/// <paramref name="available"/> says no, it is not asked at all (its first command would wait for the connection); when
/// it fails, one warning per 30 s.
/// </summary>
internal sealed partial class SecondLevelCache(IBufferDistributedCache inner, Func<bool> available, ILogger logger) : IBufferDistributedCache, IDisposable
{
    private static readonly long WarnEvery = (long)TimeSpan.FromSeconds(30).TotalMilliseconds;
    private long _lastWarned = long.MinValue / 2;

    /// <inheritdoc />
    public bool TryGet(string key, IBufferWriter<byte> destination) => Try(() => inner.TryGet(key, destination), false);

    /// <inheritdoc />
    public async ValueTask<bool> TryGetAsync(string key, IBufferWriter<byte> destination, CancellationToken token = default)
    {
        if (!available())
        {
            return false;
        }

        try
        {
            return await inner.TryGetAsync(key, destination, token);
        }
        catch (Exception e) when (Failed(e, token))
        {
            return false;
        }
    }

    /// <inheritdoc />
    public void Set(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions options) => Try(() => inner.Set(key, value, options));

    /// <inheritdoc />
    public async ValueTask SetAsync(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions options, CancellationToken token = default)
    {
        if (!available())
        {
            return;
        }

        try
        {
            await inner.SetAsync(key, value, options, token);
        }
        catch (Exception e) when (Failed(e, token))
        {
        }
    }

    /// <inheritdoc />
    public byte[]? Get(string key) => Try(() => inner.Get(key), null);

    /// <inheritdoc />
    public async Task<byte[]?> GetAsync(string key, CancellationToken token = default)
    {
        if (!available())
        {
            return null;
        }

        try
        {
            return await inner.GetAsync(key, token);
        }
        catch (Exception e) when (Failed(e, token))
        {
            return null;
        }
    }

    /// <inheritdoc />
    public void Set(string key, byte[] value, DistributedCacheEntryOptions options) => Try(() => inner.Set(key, value, options));

    /// <inheritdoc />
    public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default) =>
        QuietlyAsync(() => inner.SetAsync(key, value, options, token), token);

    /// <inheritdoc />
    public void Refresh(string key) => Try(() => inner.Refresh(key));

    /// <inheritdoc />
    public Task RefreshAsync(string key, CancellationToken token = default) => QuietlyAsync(() => inner.RefreshAsync(key, token), token);

    /// <inheritdoc />
    public void Remove(string key) => Try(() => inner.Remove(key));

    /// <inheritdoc />
    public Task RemoveAsync(string key, CancellationToken token = default) => QuietlyAsync(() => inner.RemoveAsync(key, token), token);

    /// <inheritdoc />
    public void Dispose() => (inner as IDisposable)?.Dispose();

    private async Task QuietlyAsync(Func<Task> operation, CancellationToken token)
    {
        if (!available())
        {
            return;
        }

        try
        {
            await operation();
        }
        catch (Exception e) when (Failed(e, token))
        {
        }
    }

    private T Try<T>(Func<T> operation, T failed)
    {
        if (!available())
        {
            return failed;
        }

        try
        {
            return operation();
        }
        catch (Exception e) when (Failed(e, CancellationToken.None))
        {
            return failed;
        }
    }

    private void Try(Action operation)
    {
        if (!available())
        {
            return;
        }

        try
        {
            operation();
        }
        catch (Exception e) when (Failed(e, CancellationToken.None))
        {
        }
    }

    /// <summary>True for a failure of the second level (not a cancellation the caller asked for), warned of at most once per 30 s.</summary>
    private bool Failed(Exception e, CancellationToken token)
    {
        if (e is OperationCanceledException && token.IsCancellationRequested)
        {
            return false;
        }

        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastWarned);
        if (now - last >= WarnEvery && Interlocked.CompareExchange(ref _lastWarned, now, last) == last)
        {
            LogFailing(logger, e.GetType().Name, e.Message);
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The result cache's second level (server.redis) failed ({Kind}: {Reason}): results are cached in this server's memory only until it is back")]
    private static partial void LogFailing(ILogger logger, string kind, string reason);
}
