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
    public ValueTask<bool> TryGetAsync(string key, IBufferWriter<byte> destination, CancellationToken token = default) =>
        TryAsync(() => inner.TryGetAsync(key, destination, token), false, token);

    /// <inheritdoc />
    public void Set(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions options) => Try(() => { inner.Set(key, value, options); return true; }, false);

    /// <inheritdoc />
    public async ValueTask SetAsync(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions options, CancellationToken token = default) =>
        await TryAsync(async () => { await inner.SetAsync(key, value, options, token); return true; }, false, token);

    /// <inheritdoc />
    public byte[]? Get(string key) => Try(() => inner.Get(key), null);

    /// <inheritdoc />
    public async Task<byte[]?> GetAsync(string key, CancellationToken token = default) => await TryAsync(async () => await inner.GetAsync(key, token), null, token);

    /// <inheritdoc />
    public void Set(string key, byte[] value, DistributedCacheEntryOptions options) => Try(() => { inner.Set(key, value, options); return true; }, false);

    /// <inheritdoc />
    public async Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default) =>
        await TryAsync(async () => { await inner.SetAsync(key, value, options, token); return true; }, false, token);

    /// <inheritdoc />
    public void Refresh(string key) => Try(() => { inner.Refresh(key); return true; }, false);

    /// <inheritdoc />
    public async Task RefreshAsync(string key, CancellationToken token = default) =>
        await TryAsync(async () => { await inner.RefreshAsync(key, token); return true; }, false, token);

    /// <inheritdoc />
    public void Remove(string key) => Try(() => { inner.Remove(key); return true; }, false);

    /// <inheritdoc />
    public async Task RemoveAsync(string key, CancellationToken token = default) =>
        await TryAsync(async () => { await inner.RemoveAsync(key, token); return true; }, false, token);

    /// <inheritdoc />
    public void Dispose() => (inner as IDisposable)?.Dispose();

    /// <summary><paramref name="operation"/>'s result, or <paramref name="failed"/> while the second level is unavailable or when it fails.</summary>
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

    /// <inheritdoc cref="Try{T}"/>
    private async ValueTask<T> TryAsync<T>(Func<ValueTask<T>> operation, T failed, CancellationToken token)
    {
        if (!available())
        {
            return failed;
        }

        try
        {
            return await operation();
        }
        catch (Exception e) when (Failed(e, token))
        {
            return failed;
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
