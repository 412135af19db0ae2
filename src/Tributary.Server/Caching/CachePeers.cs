using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Tributary.Server.Caching;

/// <summary>
/// Servers sharing <c>server.redis</c> tell each other which tables changed (or that a source changed as a whole), so
/// each drops its memory copies: HybridCache has no channel of its own for that. Created only when Redis is configured,
/// so a server without it never loads the Redis client.
/// </summary>
internal sealed partial class CachePeers
{
    /// <summary>The channel of changed tables: <c>server\nsource\ntable...</c>. A name, not a static RedisChannel: this type's layout must not need the Redis client.</summary>
    private const string ChannelName = "tributary:query-cache:changed";
    private readonly string _serverId = Guid.NewGuid().ToString("N");
    private readonly RedisConnection _redis;
    private readonly ILogger _logger;

    /// <summary>Subscribes once <paramref name="redis"/> has its connection, and calls <paramref name="changed"/> with each other server's source and tables.</summary>
    public CachePeers(RedisConnection redis, Action<string, string[]> changed, ILogger logger)
    {
        _redis = redis;
        _logger = logger;
        _ = ListenAsync(changed);
    }

    /// <summary>Tells the other servers that <paramref name="tables"/> of <paramref name="source"/> changed; nothing while Redis cannot be reached.</summary>
    public Task AnnounceAsync(string source, IReadOnlyCollection<string> tables)
    {
        if (!_redis.IsAvailable)
        {
            return Task.CompletedTask;
        }

        try
        {
            return _redis.Multiplexer!.GetSubscriber().PublishAsync(RedisChannel.Literal(ChannelName), string.Join('\n', [_serverId, source, .. tables]), CommandFlags.FireAndForget);
        }
        catch (RedisException e)
        {
            LogNotTold(_logger, e.Message);
            return Task.CompletedTask;
        }
    }

    private async Task ListenAsync(Action<string, string[]> changed)
    {
        try
        {
            // Once: the client keeps the subscription and makes it again whenever it reconnects.
            await (await _redis.Connected).GetSubscriber().SubscribeAsync(RedisChannel.Literal(ChannelName), (_, message) =>
            {
                var parts = message.ToString().Split('\n');
                if (parts.Length >= 2 && parts[0] != _serverId)
                {
                    changed(parts[1], parts[2..]);
                }
            });
        }
        catch (Exception e) when (e is RedisException or ObjectDisposedException)
        {
            LogNotTold(_logger, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The change channel on server.redis failed ({Reason}): until Redis is back, servers see each other's changes once cache_ttl has passed")]
    private static partial void LogNotTold(ILogger logger, string reason);
}
