using StackExchange.Redis;

namespace Tributary.Server.Caching;

/// <summary>
/// Servers sharing <c>server.redis</c> tell each other which tables changed, so each drops its memory copies (HybridCache
/// has no channel of its own for that). Created only when Redis is configured, so a server without it never loads the
/// Redis client.
/// </summary>
internal sealed class CachePeers : IDisposable
{
    /// <summary>The channel of changed tables: <c>server\nsource\ntable...</c>. A name, not a static RedisChannel: this type's layout must not need the Redis client.</summary>
    private const string ChannelName = "tributary:query-cache:changed";
    private readonly string _serverId = Guid.NewGuid().ToString("N");
    private readonly ConnectionMultiplexer _redis;

    /// <summary>Connects in the background (a Redis that is down delays nothing; its changes are bounded by the TTL) and calls <paramref name="changed"/> with each other server's source and tables.</summary>
    public CachePeers(string redis, Action<string, string[]> changed)
    {
        var options = ConfigurationOptions.Parse(redis);
        options.AbortOnConnectFail = false;
        _redis = ConnectionMultiplexer.Connect(options);
        _redis.GetSubscriber().Subscribe(RedisChannel.Literal(ChannelName), (_, message) =>
        {
            var parts = message.ToString().Split('\n');
            if (parts.Length >= 2 && parts[0] != _serverId)
            {
                changed(parts[1], parts[2..]);
            }
        });
    }

    /// <summary>Tells the other servers that <paramref name="tables"/> of <paramref name="source"/> changed.</summary>
    public Task AnnounceAsync(string source, IReadOnlyCollection<string> tables) =>
        _redis.GetSubscriber().PublishAsync(RedisChannel.Literal(ChannelName), string.Join('\n', [_serverId, source, .. tables]), CommandFlags.FireAndForget);

    /// <inheritdoc />
    public void Dispose() => _redis.Dispose();
}
