using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.IdentityModel.Tokens;
using ModelContextProtocol.Client;
using Tributary.Core.Configuration;
using Tributary.Server.Tests.Auth;
using Tributary.Server.Tests.Mcp;
using Tributary.Server.Tests.Topics;
using Tributary.Testing;

namespace Tributary.Server.Tests.Caching;

/// <summary>
/// Tributary caching the demo shop's query results for 10 minutes, with read tools that cache (or, with cache_ttl 0s,
/// do not) and a write tool; a second source that caches nothing, and a third that keeps two results.
/// </summary>
public class CachingServer : TributaryHttpServer
{
    /// <summary>The shop source's <c>capture:</c> line: none here.</summary>
    protected virtual string Capture => "";

    protected override Task<TributaryConfig> CreateConfigAsync() => FromYaml($$"""
        sources:
          shop:
            kind: sqlite
            path: {{DatabasePath}}
            cache_ttl: 10m
            writable: true
            tables:
              orders: { version_column: version, columns: { status: {}, note: {} } }
            {{Capture}}
          plain:
            kind: sqlite
            path: {{DatabasePath}}
          small:
            kind: sqlite
            path: {{DatabasePath}}
            cache_ttl: 10m
            cache_max_entries: 2
        tools:
          order_note:
            source: shop
            statement: SELECT id, note, version FROM orders WHERE id = @id
            parameters: { id: { type: integer, required: true } }
          live_order_note:
            source: shop
            cache_ttl: 0s
            statement: SELECT id, note, version FROM orders WHERE id = @id
            parameters: { id: { type: integer, required: true } }
          add_order_note:
            source: shop
            statement: UPDATE orders SET note = @note, version = version + 1 WHERE id = @id RETURNING id, note
            parameters: { id: { type: integer, required: true }, note: { type: string, required: true } }
        topics:
          orders: { description: Changes of orders }
        """);

    /// <summary>Runs a statement on the database file as another program would.</summary>
    public void Execute(string sql) => ChangeCaptureTests.Execute(DatabasePath, sql);

    /// <summary>Holds an exclusive lock on the database file (the demo's rollback journal lets no reader in) until disposed.</summary>
    public SqliteConnection Lock()
    {
        var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        using var command = new SqliteCommand("BEGIN EXCLUSIVE", connection);
        command.ExecuteNonQuery();
        return connection;
    }

    /// <summary>Waits until change capture has installed its triggers, so that writes of other programs are seen.</summary>
    public Task CaptureReadyAsync() => ChangeCaptureTests.WaitForTriggersAsync(DatabasePath);
}

/// <summary>The caching server capturing changes of orders (not of customers).</summary>
public sealed class CapturingCacheServer : CachingServer
{
    protected override string Capture => "capture: { orders: { topic: orders } }";
}

public sealed class ResultCacheTests(CachingServer server) : IClassFixture<CachingServer>
{
    [Fact]
    public async Task A_repeated_query_is_served_from_the_cache_without_touching_the_database()
    {
        using var meters = new ServerMeters(server.Services);
        await using var client = await server.ConnectAsync();
        var arguments = Query("SELECT status, count(*) AS n FROM orders WHERE total_cents > @min GROUP BY status ORDER BY status", new { min = 5000 });
        var first = await client.CallOkAsync("query", arguments);
        Assert.Equal("miss", Cache(first));
        var second = await client.CallOkAsync("query", arguments);
        Assert.Equal("hit", Cache(second));
        Assert.Equal(first.GetProperty("rows").GetRawText(), second.GetProperty("rows").GetRawText());

        // Other spacing and comments are the same statement.
        var respaced = Query("SELECT status,  count(*) AS n\n  FROM orders -- big ones\n WHERE total_cents > @min /* all */ GROUP BY status ORDER BY status", new { min = 5000 });
        Assert.Equal("hit", Cache(await client.CallOkAsync("query", respaced)));

        // With the file locked against every reader, a query would wait and fail; the cached result still comes back.
        using (server.Lock())
        {
            var locked = await client.CallOkAsync("query", arguments);
            Assert.Equal("hit", Cache(locked));
            Assert.Equal(first.GetProperty("rows").GetRawText(), locked.GetProperty("rows").GetRawText());
        }

        Assert.Equal(3, meters.Sum("tributary.query.cache_lookups", "cache=hit"));
        Assert.Equal(1, meters.Sum("tributary.query.cache_lookups", "cache=miss"));
        Assert.Equal(4, meters.Sum("tributary.query.cache_lookups", "source=shop"));
    }

    [Fact]
    public async Task Other_parameters_pages_and_statements_are_other_entries()
    {
        await using var client = await server.ConnectAsync();
        const string Sql = "SELECT id, total_cents FROM orders WHERE customer_id = @customer ORDER BY id";
        Assert.Equal("miss", Cache(await client.CallOkAsync("query", Query(Sql, new { customer = 7 }))));
        Assert.Equal("miss", Cache(await client.CallOkAsync("query", Query(Sql, new { customer = 8 }))));
        Assert.Equal("miss", Cache(await client.CallOkAsync("query", Query(Sql, new { customer = 7.5 }))));
        Assert.Equal("miss", Cache(await client.CallOkAsync("query", Query(Sql + " DESC", new { customer = 7 }))));

        // A page of its own, and the next page through its cursor: each cached as such.
        var page = Query(Sql, new { customer = 7 });
        page["max_rows"] = 1;
        var first = await client.CallOkAsync("query", page);
        Assert.Equal("miss", Cache(first));
        Assert.True(first.GetProperty("truncated").GetBoolean());
        var next = new Dictionary<string, object?> { ["cursor"] = first.GetProperty("next_cursor").GetString() };
        var second = await client.CallOkAsync("query", next);
        Assert.Equal("miss", Cache(second));
        Assert.Equal("hit", Cache(await client.CallOkAsync("query", next)));
        Assert.NotEqual(first.GetProperty("rows").GetRawText(), second.GetProperty("rows").GetRawText());
        Assert.Equal("hit", Cache(await client.CallOkAsync("query", page)));

        // A string with other spacing inside its quotes is another statement.
        Assert.Equal("a  b", (await client.CallOkAsync("query", Query("SELECT 'a  b' AS s"))).GetProperty("rows")[0][0].GetString());
        Assert.Equal("a b", (await client.CallOkAsync("query", Query("SELECT 'a b' AS s"))).GetProperty("rows")[0][0].GetString());
    }

    [Fact]
    public async Task Without_a_ttl_nothing_is_cached_and_the_result_says_nothing_of_a_cache()
    {
        await using var client = await server.ConnectAsync();
        var plain = Query("SELECT count(*) FROM customers", source: "plain");
        for (var i = 0; i < 2; i++)
        {
            Assert.False((await client.CallOkAsync("query", plain)).TryGetProperty("cache", out _));
            Assert.False((await client.CallOkAsync("live_order_note", new() { ["id"] = 3 })).TryGetProperty("cache", out _));
        }

        Assert.Equal("miss", Cache(await client.CallOkAsync("order_note", new() { ["id"] = 3 })));
        Assert.Equal("hit", Cache(await client.CallOkAsync("order_note", new() { ["id"] = 3 })));
    }

    [Fact]
    public async Task Update_rows_drops_the_results_that_read_its_table_and_only_those()
    {
        await using var client = await server.ConnectAsync();
        var order = Query("SELECT id, status, version FROM orders WHERE id = 11");
        var customers = Query("SELECT count(*) FROM customers WHERE id < 100");
        var before = await client.CallOkAsync("query", order);
        await client.CallOkAsync("query", customers);
        Assert.Equal("hit", Cache(await client.CallOkAsync("query", order)));

        var status = before.GetProperty("rows")[0][1].GetString() == "refunded" ? "cancelled" : "refunded";
        await client.CallOkAsync("update_rows", new() { ["source"] = "shop", ["table"] = "orders", ["key"] = new { id = 11 }, ["set"] = new { status } });

        var after = await client.CallOkAsync("query", order);
        Assert.Equal("miss", Cache(after));
        Assert.Equal(status, after.GetProperty("rows")[0][1].GetString());
        Assert.Equal("hit", Cache(await client.CallOkAsync("query", customers)));
    }

    [Fact]
    public async Task A_named_write_tool_drops_the_results_of_named_read_tools_and_queries_of_its_table()
    {
        await using var client = await server.ConnectAsync();
        var view = Query("SELECT o.id, o.note FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = 12");
        await client.CallOkAsync("order_note", new() { ["id"] = 12 });
        await client.CallOkAsync("query", view);
        await client.CallOkAsync("add_order_note", new() { ["id"] = 12, ["note"] = "gift wrap" });

        var note = await client.CallOkAsync("order_note", new() { ["id"] = 12 });
        Assert.Equal("miss", Cache(note));
        Assert.Equal("gift wrap", note.GetProperty("rows")[0][1].GetString());
        Assert.Equal("gift wrap", (await client.CallOkAsync("query", view)).GetProperty("rows")[0][1].GetString());

        // A dry run changes nothing, and drops nothing.
        await client.CallOkAsync("add_order_note", new() { ["id"] = 12, ["note"] = "maybe", ["dry_run"] = true });
        Assert.Equal("hit", Cache(await client.CallOkAsync("order_note", new() { ["id"] = 12 })));
    }

    [Fact]
    public async Task Concurrent_identical_misses_run_the_query_once()
    {
        using var meters = new ServerMeters(server.Services);
        var clients = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => server.ConnectAsync()));
        try
        {
            var arguments = Query("SELECT customer_id, sum(total_cents) AS spent FROM orders GROUP BY customer_id ORDER BY spent DESC LIMIT 5");
            Task<JsonElement[]> calls;
            // Held back by the lock, the first call's query waits inside SQLite while the others ask for the same result.
            using (server.Lock())
            {
                calls = Task.WhenAll(clients.Select(c => c.CallOkAsync("query", arguments)));
                await Task.Delay(500);
            }

            var results = await calls;
            Assert.Equal(1, results.Count(r => Cache(r) == "miss"));
            Assert.Equal(7, results.Count(r => Cache(r) == "hit"));
            Assert.Single(results.Select(r => r.GetProperty("rows").GetRawText()).Distinct());
            Assert.Equal(1, meters.Sum("tributary.query.cache_lookups", "cache=miss"));
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_query_that_fails_while_it_runs_is_the_same_tool_error_and_is_not_kept()
    {
        await using var client = await server.ConnectAsync();
        var broken = Query("SELECT json_extract('not json ' || id, '$.a') FROM orders WHERE id = 1");
        for (var i = 0; i < 2; i++)
        {
            Assert.Contains("malformed JSON", await client.CallErrorAsync("query", broken), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_source_keeps_its_most_recently_used_results_up_to_cache_max_entries()
    {
        await using var client = await server.ConnectAsync();
        var (a, b, c) = (Query("SELECT 'a'", source: "small"), Query("SELECT 'b'", source: "small"), Query("SELECT 'c'", source: "small"));
        string[] outcomes =
        [
            Cache(await client.CallOkAsync("query", a))!,
            Cache(await client.CallOkAsync("query", b))!,
            Cache(await client.CallOkAsync("query", a))!,
            Cache(await client.CallOkAsync("query", c))!,
            Cache(await client.CallOkAsync("query", b))!,
            Cache(await client.CallOkAsync("query", c))!,
            Cache(await client.CallOkAsync("query", a))!,
        ];
        Assert.Equal(["miss", "miss", "hit", "miss", "miss", "hit", "miss"], outcomes);
    }

    [Fact]
    public async Task Prometheus_shows_hits_and_misses_by_source()
    {
        await using var client = await server.ConnectAsync();
        var arguments = Query("SELECT count(*) FROM app_logs");
        await client.CallOkAsync("query", arguments);
        await client.CallOkAsync("query", arguments);
        string[] expected = ["tributary_query_cache_lookups_total{", "cache=\"hit\"", "cache=\"miss\"", "source=\"shop\""];
        var text = await Http.ObservabilityTests.MetricsShowingAsync(server.BaseAddress, expected);
        Assert.All(expected, e => Assert.Contains(e, text, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Batch_query_items_share_the_cache()
    {
        await using var client = await server.ConnectAsync();
        var item = new { source = "shop", sql = "SELECT count(*) FROM products" };
        var batch = await client.CallOkAsync("batch_query", new() { ["items"] = new object[] { item, new { tool = "order_note", @params = new { id = 30 } } } });
        Assert.Equal(["miss", "miss"], batch.GetProperty("results").EnumerateArray().Select(r => Cache(r.GetProperty("result"))));
        Assert.Equal("hit", Cache(await client.CallOkAsync("query", Query(item.sql))));
        Assert.Equal("hit", Cache(await client.CallOkAsync("order_note", new() { ["id"] = 30 })));
    }

    [Fact]
    public async Task The_result_schema_describes_the_cache_field()
    {
        await using var client = await server.ConnectAsync();
        var tools = (await client.ListToolsAsync()).ToDictionary(t => t.Name);
        foreach (var name in new[] { "query", "order_note" })
        {
            var cache = tools[name].ProtocolTool.OutputSchema!.Value.GetProperty("properties").GetProperty("cache");
            Assert.Equal(["hit", "miss"], cache.GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        }
    }

    internal static string? Cache(JsonElement result) => result.TryGetProperty("cache", out var cache) ? cache.GetString() : null;

    private static Dictionary<string, object?> Query(string sql, object? parameters = null, string source = "shop") =>
        new() { ["source"] = source, ["sql"] = sql, ["params"] = parameters };
}

public sealed class CapturedChangeCacheTests(CapturingCacheServer server) : IClassFixture<CapturingCacheServer>
{
    [Fact]
    public async Task A_captured_change_made_by_another_program_drops_the_results_of_its_table_while_uncaptured_tables_wait_for_the_ttl()
    {
        await server.CaptureReadyAsync();
        await using var client = await server.ConnectAsync();
        var order = Query("SELECT note FROM orders WHERE id = 21");
        var customer = Query("SELECT city FROM customers WHERE id = 21");
        var product = Query("SELECT count(*) FROM order_items oi JOIN orders o ON o.id = oi.order_id WHERE o.id = 21");
        await client.CallOkAsync("query", order);
        var city = (await client.CallOkAsync("query", customer)).GetProperty("rows")[0][0].GetString();
        await client.CallOkAsync("query", product);

        server.Execute("UPDATE customers SET city = 'Elsewhere' WHERE id = 21");
        server.Execute("UPDATE orders SET note = 'changed outside', version = version + 1 WHERE id = 21");
        await TopicReading.WaitUntilAsync(
            async () => Cache(await client.CallOkAsync("query", order)) == "miss",
            "the captured change to drop the cached order");
        Assert.Equal("changed outside", (await client.CallOkAsync("query", order)).GetProperty("rows")[0][0].GetString());
        Assert.Equal("miss", Cache(await client.CallOkAsync("query", product)));

        // customers is not captured: its cached result stands until its TTL passes.
        var stale = await client.CallOkAsync("query", customer);
        Assert.Equal("hit", Cache(stale));
        Assert.Equal(city, stale.GetProperty("rows")[0][0].GetString());
    }

    private static string? Cache(JsonElement result) => ResultCacheTests.Cache(result);

    private static Dictionary<string, object?> Query(string sql) => new() { ["source"] = "shop", ["sql"] = sql };
}

/// <summary>Callers with their own tokens; a read tool binds the caller's subject.</summary>
public sealed class CallerScopedCacheServer : StaticKeyServer
{
    protected override string SourcesAndTools => $$"""
        sources:
          shop: { kind: sqlite, path: {{DatabasePath}}, cache_ttl: 10m }
        tools:
          whoami:
            source: shop
            statement: SELECT @who AS who, count(*) AS orders FROM orders
            parameters: { who: { from_claim: sub } }
        """;
}

public sealed class CallerScopedCacheTests(CallerScopedCacheServer server) : IClassFixture<CallerScopedCacheServer>
{
    [Fact]
    public async Task Callers_share_results_only_with_the_same_rights_and_claims()
    {
        var credentials = new SigningCredentials(server.Rsa, SecurityAlgorithms.RsaSha256);
        await using var ann = await ConnectAsync(server.Token(credentials, subject: "ann", scope: "sources:shop:read tools:whoami"));
        await using var bob = await ConnectAsync(server.Token(credentials, subject: "bob", scope: "sources:shop:read tools:whoami"));
        await using var admin = await ConnectAsync(server.Token(credentials, subject: "ann", scope: "*"));

        var query = new Dictionary<string, object?> { ["source"] = "shop", ["sql"] = "SELECT count(*) FROM customers" };
        Assert.Equal("miss", ResultCacheTests.Cache(await ann.CallOkAsync("query", query)));
        Assert.Equal("hit", ResultCacheTests.Cache(await bob.CallOkAsync("query", query)));
        Assert.Equal("miss", ResultCacheTests.Cache(await admin.CallOkAsync("query", query)));

        var annSees = await ann.CallOkAsync("whoami");
        var bobSees = await bob.CallOkAsync("whoami");
        Assert.Equal("miss", ResultCacheTests.Cache(bobSees));
        Assert.Equal("ann", annSees.GetProperty("rows")[0][0].GetString());
        Assert.Equal("bob", bobSees.GetProperty("rows")[0][0].GetString());
        Assert.Equal("hit", ResultCacheTests.Cache(await bob.CallOkAsync("whoami")));
    }

    private Task<McpClient> ConnectAsync(string token) => server.ConnectAsync(headers: new Dictionary<string, string> { ["Authorization"] = $"Bearer {token}" });
}

public sealed class PostgresResultCacheTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task A_captured_change_in_postgres_drops_the_results_that_read_its_table_views_included()
    {
        var database = await postgres.CreateDatabaseAsync();
        await postgres.ExecuteAsync(database, """
            CREATE TABLE orders (id serial PRIMARY KEY, status text NOT NULL, total int NOT NULL);
            CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
            CREATE VIEW revenue AS SELECT status, sum(total) AS total FROM orders GROUP BY status;
            INSERT INTO orders (status, total) VALUES ('paid', 10), ('paid', 20), ('pending', 5);
            INSERT INTO customers (name) VALUES ('Ann');
            """);
        await using var server = new PostgresCaptureServer(database, TestPaths.NewTempDirectory(), "{ orders: { topic: orders } }", "cache_ttl: 10m");
        await PostgresChangeCaptureTests.StartAsync(server, database);
        await using var client = await server.ConnectAsync();
        var revenue = new Dictionary<string, object?> { ["source"] = "pg", ["sql"] = "SELECT total FROM revenue WHERE status = $1", ["params"] = new[] { "paid" } };
        var customer = new Dictionary<string, object?> { ["source"] = "pg", ["sql"] = "SELECT name FROM customers WHERE id = 1" };
        Assert.Equal("miss", ResultCacheTests.Cache(await client.CallOkAsync("query", revenue)));
        Assert.Equal("miss", ResultCacheTests.Cache(await client.CallOkAsync("query", customer)));
        Assert.Equal("hit", ResultCacheTests.Cache(await client.CallOkAsync("query", revenue)));

        await postgres.ExecuteAsync(database, "UPDATE customers SET name = 'Bob'; INSERT INTO orders (status, total) VALUES ('paid', 100)");
        await TopicReading.WaitUntilAsync(
            async () => ResultCacheTests.Cache(await client.CallOkAsync("query", revenue)) == "miss",
            "the captured change to drop the cached revenue");
        Assert.Equal(130, (await client.CallOkAsync("query", revenue)).GetProperty("rows")[0][0].GetInt64());

        // customers is not captured: its result stands until its TTL passes.
        var stale = await client.CallOkAsync("query", customer);
        Assert.Equal(("hit", "Ann"), (ResultCacheTests.Cache(stale), stale.GetProperty("rows")[0][0].GetString()));
    }
}
