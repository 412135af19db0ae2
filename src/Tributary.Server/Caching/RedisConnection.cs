using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Tributary.Server.Caching;

/// <summary>
/// The server's one connection to <c>server.redis</c>, shared by the result cache's second level and the change channel
/// (<see cref="CachePeers"/>). It connects in the background and keeps trying while Redis cannot be reached, so a Redis
/// that is down (or that accepts connections and never answers) delays and stops nothing: until it is
/// <see cref="IsAvailable"/>, the cache runs on memory alone. While it is unavailable, commands fail at once rather than
/// wait in a backlog. Created only when Redis is configured, so a server without it never loads the Redis client.
/// </summary>
internal sealed partial class RedisConnection : IDisposable
{
    private readonly Task<ConnectionMultiplexer> _connecting;
    private readonly Lock _lock = new();
    private bool _disposed;

    /// <summary>Starts connecting to <paramref name="redis"/> (StackExchange.Redis configuration syntax).</summary>
    public RedisConnection(string redis, ILogger logger)
    {
        var options = ConfigurationOptions.Parse(redis);
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        _connecting = ConnectAsync(options, logger);
    }

    /// <summary>The connection once it exists (connected or reconnecting), else null.</summary>
    public ConnectionMultiplexer? Multiplexer => _connecting.IsCompletedSuccessfully ? _connecting.Result : null;

    /// <summary>True while Redis answers.</summary>
    public bool IsAvailable => Multiplexer is { IsConnected: true };

    /// <summary>The connection, once it exists.</summary>
    public Task<ConnectionMultiplexer> Connected => _connecting;

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
        }

        Multiplexer?.Dispose();
    }

    private async Task<ConnectionMultiplexer> ConnectAsync(ConfigurationOptions options, ILogger logger)
    {
        var connection = await ConnectionMultiplexer.ConnectAsync(options);
        if (!connection.IsConnected)
        {
            LogUnreachable(logger, string.Join(", ", options.EndPoints));
        }

        lock (_lock)
        {
            if (!_disposed)
            {
                return connection;
            }
        }

        // The server stopped while this connection was being made.
        connection.Dispose();
        return connection;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "server.redis ({Endpoints}) cannot be reached yet: results are cached in this server's memory only, and servers are not told of each other's changes, until it is")]
    private static partial void LogUnreachable(ILogger logger, string endpoints);
}
