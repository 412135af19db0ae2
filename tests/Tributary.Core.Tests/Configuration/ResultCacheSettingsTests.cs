using Tributary.Core.Configuration;
using Tributary.Server.Hosting;
using Tributary.Testing;

namespace Tributary.Core.Tests.Configuration;

public sealed class ResultCacheSettingsTests
{
    private static readonly string Database = DemoDatabase.Copy();

    [Fact]
    public void Sql_sources_and_read_tools_take_a_cache_ttl_a_source_a_size_bound_and_the_server_a_shared_redis()
    {
        var config = new ConfigLoader(SourceProviders.All).Load(
            $$"""
            server:
              redis: redis.internal:6380,password=secret,ssl=true
            sources:
              shop: { kind: sqlite, path: {{Database}}, cache_ttl: 30s, cache_max_entries: 5_000 }
              pg: { kind: postgres, connection_string: Host=127.0.0.1;Database=shop, cache_ttl: 0s }
              plain: { kind: sqlite, path: {{Database}} }
            tools:
              fresh: { source: shop, statement: SELECT 1, cache_ttl: 0s }
              longer: { source: plain, statement: SELECT 2, cache_ttl: 1h }
              inherits: { source: shop, statement: SELECT 3 }
            """,
            "/");

        var settings = config.Sources.Select(s => ResultCacheSettings.Read(s, new ConfigErrors())).ToArray();
        Assert.Equal((TimeSpan.FromSeconds(30), 5000), (settings[0].Ttl, settings[0].MaxEntries));
        Assert.Equal((TimeSpan.Zero, ResultCacheSettings.DefaultMaxEntries), (settings[1].Ttl, settings[1].MaxEntries));
        Assert.Equal(TimeSpan.Zero, settings[2].Ttl);
        Assert.Equal([TimeSpan.Zero, TimeSpan.FromHours(1), null], config.Tools.Select(t => t.CacheTtl));
        Assert.Equal("redis.internal:6380,password=secret,ssl=true", config.Server.Redis);
    }

    [Fact]
    public void Reports_every_bad_cache_setting_under_its_key()
    {
        var error = Assert.Throws<ConfigException>(() => new ConfigLoader(SourceProviders.All).Load(
            $$"""
            server:
              redis: "redis://nowhere"
            sources:
              shop:
                kind: sqlite
                path: {{Database}}
                cache_ttl: 2d
                cache_max_entries: 0
                writable: true
                tables: { orders: {} }
              pg: { kind: postgres, connection_string: Host=127.0.0.1, cache_ttl: -5s, cache_max_entries: lots }
              api: { kind: http, base_url: "https://api.example.com" }
            tools:
              tickets: { source: api, method: GET, path: /tickets, cache_ttl: 10s }
              ticket_close: { source: api, method: POST, path: /tickets/close, cache_ttl: 10s }
              sloppy: { source: shop, statement: SELECT 1, cache_ttl: soon }
              writer: { source: shop, statement: "UPDATE orders SET note = 'x'", cache_ttl: 10s }
            """,
            "/"));

        var messages = error.Errors.ToDictionary(e => e.Path, e => e.Message);
        Assert.Contains("'2d' is not a duration from 0s (no caching) to 1d", messages["sources.shop.cache_ttl"], StringComparison.Ordinal);
        Assert.Contains("'0' is not a number of results from 1 to 1000000", messages["sources.shop.cache_max_entries"], StringComparison.Ordinal);
        Assert.Contains("'-5s' is not a duration", messages["sources.pg.cache_ttl"], StringComparison.Ordinal);
        Assert.Contains("'lots' is not a number of results", messages["sources.pg.cache_max_entries"], StringComparison.Ordinal);
        Assert.Contains("'soon' is not a duration", messages["tools.sloppy.cache_ttl"], StringComparison.Ordinal);
        Assert.Contains("only a read tool's results are cached", messages["tools.writer.cache_ttl"], StringComparison.Ordinal);
        Assert.Contains("'redis://nowhere' is not a Redis address: write host:port", messages["server.redis"], StringComparison.Ordinal);
        Assert.Contains("only a GET's answers are cached: remove cache_ttl from this POST tool", messages["tools.ticket_close.cache_ttl"], StringComparison.Ordinal);
        Assert.DoesNotContain("tools.tickets.cache_ttl", messages.Keys);
        Assert.Equal(8, error.Errors.Count);
    }
}
