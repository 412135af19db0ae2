using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Tributary.Server.Caching;

/// <summary>
/// Servers sharing <c>server.redis</c> tell each other which tables changed, so each drops its memory copies (HybridCache
/// has no channel of its own for that). Created only when Redis is configured, so a server without it never loads the
/// Redis client.
/// </summary>
internal sealed partial class CachePeers : IDisposable
{
    /// <summary>The channel of changed tables: <c>server\nsource\ntable...</c>. A name, not a static RedisChannel: this type's layout must not need the Redis client.</summary>
    private const string ChannelName = "tributary:query-cache:changed";
    private readonly string _serverId = Guid.NewGuid().ToString("N");
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private volatile ConnectionMultiplexer? _redis;

    /// <summary>
    /// Connects and subscribes in the background, trying again while Redis cannot be reached: a Redis that is down delays
    /// and stops nothing (until it is back, other servers' changes show once the TTL has passed). Calls
    /// <paramref name="changed"/> with each other server's source and tables.
    /// </summary>
    public CachePeers(string redis, Action<string, string[]> changed, ILogger logger)
    {
        _logger = logger;
        _ = ListenAsync(redis, changed);
    }

    /// <summary>Tells the other servers that <paramref name="tables"/> of <paramref name="source"/> changed; nothing while Redis cannot be reached.</summary>
    public Task AnnounceAsync(string source, IReadOnlyCollection<string> tables)
    {
        if (_redis is not { IsConnected: true } redis)
        {
            return Task.CompletedTask;
        }

        try
        {
            return redis.GetSubscriber().PublishAsync(RedisChannel.Literal(ChannelName), string.Join('\n', [_serverId, source, .. tables]), CommandFlags.FireAndForget);
        }
        catch (RedisException e)
        {
            LogUnreachable(_logger, e.Message);
            return Task.CompletedTask;
        }
    }

    /// <summary>
    /// How Tributary connects to <c>server.redis</c>, for the cache's second level and for this channel: keep trying in the
    /// background rather than fail at start, and while Redis cannot be reached fail each command at once (the cache then
    /// runs on memory alone) rather than hold it for the 5 s timeout.
    /// </summary>
    public static ConfigurationOptions Options(string redis)
    {
        var options = ConfigurationOptions.Parse(redis);
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        return options;
    }

    private async Task ListenAsync(string redis, Action<string, string[]> changed)
    {
        // The multiplexer reconnects by itself and restores its subscriptions.
        var options = Options(redis);
        var delay = TimeSpan.FromSeconds(1);
        try
        {
            _redis = await ConnectionMultiplexer.ConnectAsync(options);
            while (true)
            {
                try
                {
                    await _redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(ChannelName), (_, message) =>
                    {
                        var parts = message.ToString().Split('\n');
                        if (parts.Length >= 2 && parts[0] != _serverId)
                        {
                            changed(parts[1], parts[2..]);
                        }
                    });
                    return;
                }
                catch (RedisException e)
                {
                    LogUnreachable(_logger, e.Message);
                    await Task.Delay(delay, _stop.Token);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // The server stopped before Redis could be reached.
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stop.Cancel();
        _redis?.Dispose();
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "server.redis cannot be reached ({Reason}): servers are not told of each other's changes until it is back; results stay fresh for at most cache_ttl")]
    private static partial void LogUnreachable(ILogger logger, string reason);
}
