using StackExchange.Redis;
using Tributary.Core.Configuration;
using Tributary.Server.Tests.Mcp;
using Tributary.Server.Tests.Topics;
using Tributary.Testing;

namespace Tributary.Server.Tests.Caching;

/// <summary>One of several servers on one database file (and one HTTP API, when <paramref name="api"/> is given), sharing a Redis as the result cache's second level.</summary>
public sealed class RedisCachingServer(string databasePath, string redis, Uri? api = null) : TributaryHttpServer(databasePath, TestPaths.NewTempDirectory())
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
        {{(api is null ? "" : $"  api: {{ kind: http, base_url: {api}, allowed_ranges: [127.0.0.1/32], cache_ttl: 10m }}")}}
        {{(api is null ? "" : "tools:\n  add_ticket: { source: api, method: POST, path: /tickets, body: [title], parameters: { title: { type: string, required: true } } }")}}
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
        await InRedisAsync("tributary:*query:shop:*");

        var fromRedis = await two.CallOkAsync("query", order);
        Assert.Equal("hit", ResultCacheTests.Cache(fromRedis));

        await one.CallOkAsync("update_rows", new() { ["source"] = "shop", ["table"] = "orders", ["key"] = new { id = 40 }, ["set"] = new { note = "changed on the first server" } });
        Assert.Equal("miss", ResultCacheTests.Cache(await one.CallOkAsync("query", order)));
        await TopicReading.WaitUntilAsync(
            async () => (await two.CallOkAsync("query", order)).GetProperty("rows")[0][1].GetString() == "changed on the first server",
            "the second server to drop the result the first one's write changed");
    }

    [Fact]
    public async Task Servers_sharing_a_redis_serve_each_others_http_answers()
    {
        var calls = 0;
        await using var upstream = LoopbackHttpServer.Start((context, _) =>
        {
            var n = Interlocked.Increment(ref calls);
            return LoopbackHttpServer.AnswerAsync(context, "application/json", System.Text.Encoding.UTF8.GetBytes($$"""{"answer":{{n}}}"""));
        });
        var database = DemoDatabase.Copy();
        var api = new Uri(upstream.BaseAddress, "v1");
        await using var first = new RedisCachingServer(database, redis.Configuration, api);
        await using var second = new RedisCachingServer(database, redis.Configuration, api);
        await first.InitializeAsync();
        await second.InitializeAsync();
        await using var one = await first.ConnectAsync();
        await using var two = await second.ConnectAsync();
        var tickets = new Dictionary<string, object?> { ["source"] = "api", ["path"] = "/tickets", ["query"] = new { state = "open" } };

        Assert.Equal("miss", ResultCacheTests.Cache(await one.CallOkAsync("fetch", tickets)));
        await InRedisAsync("tributary:*http:api:*");

        var fromRedis = await two.CallOkAsync("fetch", tickets);
        Assert.Equal("hit", ResultCacheTests.Cache(fromRedis));
        Assert.Equal(1, fromRedis.GetProperty("body").GetProperty("answer").GetInt32());
        Assert.Equal(1, Volatile.Read(ref calls));

        // A change through the first server: the second one is told, and asks the API again.
        await one.CallOkAsync("add_ticket", new() { ["title"] = "Printer on fire" });
        await TopicReading.WaitUntilAsync(
            async () => (await two.CallOkAsync("fetch", tickets)).GetProperty("body").GetProperty("answer").GetInt32() > 1,
            "the second server to drop the answer the first one's change made old");
    }

    [Fact]
    public async Task A_server_whose_redis_cannot_be_reached_starts_and_caches_in_its_own_memory()
    {
        // Nothing listens there: the server must neither fail to start nor fail its calls.
        await using var server = new RedisCachingServer(DemoDatabase.Copy(), $"127.0.0.1:{TestPaths.FreePort()}");
        await server.InitializeAsync();
        await using var client = await server.ConnectAsync();
        var order = new Dictionary<string, object?> { ["source"] = "shop", ["sql"] = "SELECT id, note FROM orders WHERE id = 41", ["max_rows"] = 1 };
        Assert.Equal("miss", ResultCacheTests.Cache(await client.CallOkAsync("query", order)));
        Assert.Equal("hit", ResultCacheTests.Cache(await client.CallOkAsync("query", order)));

        // A write still drops the result (the other servers cannot be told, and nothing fails for it).
        await client.CallOkAsync("update_rows", new() { ["source"] = "shop", ["table"] = "orders", ["key"] = new { id = 41 }, ["set"] = new { note = "changed while Redis is down" } });
        var after = await client.CallOkAsync("query", order);
        Assert.Equal("miss", ResultCacheTests.Cache(after));
        Assert.Equal("changed while Redis is down", after.GetProperty("rows")[0][1].GetString());
    }

    /// <summary>Waits until Redis holds a key matching <paramref name="pattern"/>: the first server writes what it keeps to Redis in the background.</summary>
    private async Task InRedisAsync(string pattern)
    {
        using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var server = connection.GetServer(connection.GetEndPoints()[0]);
        await TopicReading.WaitUntilAsync(() => Task.FromResult(server.Keys(pattern: pattern).Any()), $"a key {pattern} in Redis");
    }
}
