using StackExchange.Redis;
using Tributary.Core.Configuration;
using Tributary.Server.Tests.Mcp;
using Tributary.Server.Tests.Topics;
using Tributary.Testing;

namespace Tributary.Server.Tests.Caching;

/// <summary>One of several servers on one database file, sharing a Redis as the result cache's second level.</summary>
public sealed class RedisCachingServer(string databasePath, string redis) : TributaryHttpServer(databasePath, TestPaths.NewTempDirectory())
{
    protected override Task<TributaryConfig> CreateConfigAsync() => FromYaml($$"""
        server:
          cursor_secret: shared-by-the-servers-behind-one-balancer
          redis: {{redis}}
        sources:
          shop:
            kind: sqlite
            path: {{DatabasePath}}
            cache_ttl: 10m
            writable: true
            tables: { orders: { columns: { note: {} } } }
        """);
}

public sealed class RedisCacheTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task Servers_sharing_a_redis_serve_each_others_results_and_a_write_on_one_drops_them_on_both()
    {
        var database = DemoDatabase.Copy();
        await using var first = new RedisCachingServer(database, redis.Configuration);
        await using var second = new RedisCachingServer(database, redis.Configuration);
        await first.InitializeAsync();
        await second.InitializeAsync();
        await using var one = await first.ConnectAsync();
        await using var two = await second.ConnectAsync();
        var order = new Dictionary<string, object?> { ["source"] = "shop", ["sql"] = "SELECT id, note FROM orders WHERE id = 40", ["max_rows"] = 1 };

        Assert.Equal("miss", ResultCacheTests.Cache(await one.CallOkAsync("query", order)));
        // The first server writes its result to Redis in the background.
        using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration))
        {
            var server = connection.GetServer(connection.GetEndPoints()[0]);
            await TopicReading.WaitUntilAsync(() => Task.FromResult(server.Keys(pattern: "tributary:*query:shop:*").Any()), "the first server's result in Redis");
        }

        var fromRedis = await two.CallOkAsync("query", order);
        Assert.Equal("hit", ResultCacheTests.Cache(fromRedis));

        await one.CallOkAsync("update_rows", new() { ["source"] = "shop", ["table"] = "orders", ["key"] = new { id = 40 }, ["set"] = new { note = "changed on the first server" } });
        Assert.Equal("miss", ResultCacheTests.Cache(await one.CallOkAsync("query", order)));
        await TopicReading.WaitUntilAsync(
            async () => (await two.CallOkAsync("query", order)).GetProperty("rows")[0][1].GetString() == "changed on the first server",
            "the second server to drop the result the first one's write changed");
    }
}
