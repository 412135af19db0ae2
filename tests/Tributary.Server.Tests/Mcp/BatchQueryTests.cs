using System.Text.Json;
using ModelContextProtocol.Client;
using Tributary.Core.Configuration;
using Tributary.Server.Mcp;
using Tributary.Server.State;
using Tributary.Server.Tests.Auth;
using Tributary.Testing;

namespace Tributary.Server.Tests.Mcp;

/// <summary>Tributary over HTTP with two SQLite sources on the demo data, a named read tool and a named write tool.</summary>
public sealed class BatchServer : TributaryHttpServer
{
    protected override Task<TributaryConfig> CreateConfigAsync() => FromYaml($$"""
        sources:
          shop:
            kind: sqlite
            path: {{DatabasePath}}
            batch_concurrency: 2
            writable: true
            tables:
              orders: { version_column: version, columns: { note: {} } }
          other: { kind: sqlite, path: {{DatabasePath}} }
        tools:
          customer_orders:
            source: shop
            statement: SELECT id, customer_id FROM orders WHERE customer_id = @customer_id ORDER BY id
            parameters:
              customer_id: { type: integer, minimum: 1, required: true }
          add_note:
            source: shop
            statement: UPDATE orders SET note = @note WHERE id = @id
            parameters:
              id: { type: integer, required: true }
              note: { type: string, required: true }
        """);
}

public sealed class BatchQueryTests(BatchServer server) : IClassFixture<BatchServer>
{
    [Fact]
    public async Task Each_item_gets_the_result_or_error_its_single_call_gets_in_input_order()
    {
        await using var client = await server.ConnectAsync();
        var before = DemoDatabase.Hash(server.DatabasePath);
        // Each item, and the single call that must answer it the same way.
        var cases = new (string Item, string Tool, string Arguments)[]
        {
            ("""{"source":"shop","sql":"SELECT id, status FROM orders WHERE id = ?","params":[7]}""", "query", """{"source":"shop","sql":"SELECT id, status FROM orders WHERE id = ?","params":[7]}"""),
            ("""{"source":"shop","sql":"SELECT * FROM nope"}""", "query", """{"source":"shop","sql":"SELECT * FROM nope"}"""),
            ("""{"source":"nope","sql":"SELECT 1"}""", "query", """{"source":"nope","sql":"SELECT 1"}"""),
            ("""{"source":"shop","sql":"DELETE FROM orders"}""", "query", """{"source":"shop","sql":"DELETE FROM orders"}"""),
            ("""{"source":"shop","sql":"SELECT id FROM orders ORDER BY id","max_rows":3}""", "query", """{"source":"shop","sql":"SELECT id FROM orders ORDER BY id","max_rows":3}"""),
            ("""{"source":"shop","sql":"SELECT 1","max_rows":0}""", "query", """{"source":"shop","sql":"SELECT 1","max_rows":0}"""),
            ("""{"source":"shop"}""", "query", """{"source":"shop"}"""),
            ("""{"tool":"customer_orders","params":{"customer_id":3}}""", "customer_orders", """{"customer_id":3}"""),
            ("""{"tool":"customer_orders","params":{"customer_id":0}}""", "customer_orders", """{"customer_id":0}"""),
            ("""{"tool":"customer_orders","params":{"customer_id":3,"extra":1}}""", "customer_orders", """{"customer_id":3,"extra":1}"""),
            ("""{"source":"other","sql":"SELECT count(*) AS n FROM customers"}""", "query", """{"source":"other","sql":"SELECT count(*) AS n FROM customers"}"""),
        };

        var batch = await client.CallOkAsync(BatchQueryTool.ToolName, new() { ["items"] = JsonSerializer.Deserialize<JsonElement>("[" + string.Join(',', cases.Select(c => c.Item)) + "]") });

        var results = batch.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(cases.Length, results.Count);
        for (var i = 0; i < cases.Length; i++)
        {
            var single = await client.CallToolAsync(cases[i].Tool, JsonSerializer.Deserialize<Dictionary<string, object?>>(cases[i].Arguments)!);
            var text = Assert.IsType<ModelContextProtocol.Protocol.TextContentBlock>(Assert.Single(single.Content)).Text;
            if (single.IsError == true)
            {
                // A single call's error also names its trace; the item's error is the same text.
                Assert.Matches("^" + System.Text.RegularExpressions.Regex.Escape(results[i].GetProperty("error").GetString()!) + @" \(trace [0-9a-f]{32}\)$", text);
            }
            else
            {
                Assert.Equal(WithoutTimings(JsonDocument.Parse(text).RootElement), WithoutTimings(results[i].GetProperty("result")));
            }
        }

        Assert.Equal(4, batch.GetProperty("succeeded").GetInt32());
        Assert.Equal(7, batch.GetProperty("failed").GetInt32());
        Assert.Equal([7L], results[0].GetProperty("result").GetProperty("rows").EnumerateArray().Select(r => r[0].GetInt64()));
        Assert.Contains("no such table: nope", results[1].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("unknown source 'nope'", results[2].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("read-only", results[3].GetProperty("error").GetString(), StringComparison.Ordinal);
        var page = results[4].GetProperty("result");
        Assert.True(page.GetProperty("truncated").GetBoolean());
        var next = await client.CallOkAsync("query", new() { ["cursor"] = page.GetProperty("next_cursor").GetString() });
        Assert.Equal([4L, 5, 6], next.GetProperty("rows").EnumerateArray().Select(r => r[0].GetInt64()));
        Assert.Equal([3L], results[7].GetProperty("result").GetProperty("rows").EnumerateArray().Select(r => r[1].GetInt64()).Distinct());
        Assert.Equal(before, DemoDatabase.Hash(server.DatabasePath));
    }

    [Theory]
    [InlineData("""{"tool":"nope"}""", "unknown tool 'nope': a tool item names a configured read tool (customer_orders)")]
    [InlineData("""{"tool":"add_note","params":{"id":1,"note":"x"}}""", "'add_note' writes, and batch_query only reads")]
    [InlineData("""{"tool":"update_rows","params":{}}""", "'update_rows' is not a configured read tool")]
    [InlineData("""{"tool":"query","params":{"source":"shop","sql":"SELECT 1"}}""", "'query' is not a configured read tool")]
    [InlineData("""{"tool":"customer_orders","sql":"SELECT 1"}""", "a tool item takes only 'tool' and 'params'")]
    [InlineData("""{"tool":"customer_orders","params":[3]}""", "'params' of a tool item must be an object")]
    [InlineData("""{"source":"shop","sql":"SELECT 1","cursor":"abc"}""", "unknown key 'cursor'")]
    [InlineData("\"SELECT 1\"", "an item must be an object")]
    public async Task A_bad_item_fails_alone_with_an_error_that_says_what_to_do(string item, string expected)
    {
        await using var client = await server.ConnectAsync();
        var before = DemoDatabase.Hash(server.DatabasePath);

        var batch = await client.CallOkAsync(BatchQueryTool.ToolName, new() { ["items"] = JsonSerializer.Deserialize<JsonElement>($$"""[{"source":"shop","sql":"SELECT 1 AS one"}, {{item}}, {"source":"other","sql":"SELECT 2 AS two"}]""") });

        var results = batch.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(1, results[0].GetProperty("result").GetProperty("rows")[0][0].GetInt32());
        Assert.Contains(expected, results[1].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.False(results[1].TryGetProperty("result", out _));
        Assert.Equal(2, results[2].GetProperty("result").GetProperty("rows")[0][0].GetInt32());
        Assert.Equal(before, DemoDatabase.Hash(server.DatabasePath));
    }

    [Fact]
    public async Task A_hundred_items_come_back_in_order_and_a_hundred_and_one_are_refused()
    {
        await using var client = await server.ConnectAsync();
        var items = Enumerable.Range(0, 101).Select(i => new Dictionary<string, object?> { ["source"] = i % 2 == 0 ? "shop" : "other", ["sql"] = "SELECT ? AS n", ["params"] = new[] { i } }).ToArray();

        var batch = await client.CallOkAsync(BatchQueryTool.ToolName, new() { ["items"] = items[..100] });
        Assert.Equal(Enumerable.Range(0, 100), batch.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("result").GetProperty("rows")[0][0].GetInt32()));

        var refused = await client.CallErrorAsync(BatchQueryTool.ToolName, new() { ["items"] = items });
        Assert.Contains("at most 100 items (got 101)", refused, StringComparison.Ordinal);
        Assert.Contains("'items' is required", await client.CallErrorAsync(BatchQueryTool.ToolName, new() { ["items"] = Array.Empty<object>() }), StringComparison.Ordinal);
        Assert.Contains("'items' is required", await client.CallErrorAsync(BatchQueryTool.ToolName, new() { ["items"] = "SELECT 1" }), StringComparison.Ordinal);
    }

    [Fact]
    public async Task At_most_the_sources_batch_concurrency_of_its_items_run_at_once()
    {
        using var meters = new ServerMeters(server.Services);
        await using var client = await server.ConnectAsync();
        var items = Enumerable.Range(0, 40).Select(i => new Dictionary<string, object?> { ["source"] = "shop", ["sql"] = "SELECT count(*) FROM order_items WHERE quantity > ?", ["params"] = new[] { i % 3 } }).ToArray();

        var batch = await client.CallOkAsync(BatchQueryTool.ToolName, new() { ["items"] = items });

        Assert.Equal(40, batch.GetProperty("succeeded").GetInt32());
        Assert.Equal(40, meters.Sum("tributary.batch_query.items", "outcome=ok"));
        Assert.InRange(meters.Peak("tributary.batch_query.items_in_flight", "source=shop"), 1, 2);
        Assert.Equal(0, meters.Sum("tributary.batch_query.items_in_flight", "source=shop"));
    }

    private static string WithoutTimings(JsonElement result) =>
        JsonSerializer.Serialize(result.EnumerateObject().Where(p => p.Name != "elapsed_ms" && p.Name != "next_cursor").ToDictionary(p => p.Name, p => p.Value));
}

/// <summary>Per-principal scopes and claim-bound parameters apply to each item as to its single call.</summary>
public sealed class BatchQueryAuthTests(AuthServer server) : IClassFixture<AuthServer>
{
    [Fact]
    public async Task An_item_the_caller_may_not_read_is_denied_alone_and_audited()
    {
        var key = server.CreateKey("batch-reader", "sources:shop:read");
        await using var client = await server.ConnectAsync(key);
        Assert.Contains(BatchQueryTool.ToolName, (await client.ListToolsAsync()).Select(t => t.Name));

        var batch = await client.CallOkAsync(BatchQueryTool.ToolName, new()
        {
            ["items"] = new object[]
            {
                new { source = "shop", sql = "SELECT count(*) FROM orders" },
                new { source = "other", sql = "SELECT count(*) FROM orders" },
                new { tool = "my_orders" },
                new { source = "shop", sql = "SELECT 1" },
            },
        });

        var results = batch.GetProperty("results").EnumerateArray().ToList();
        Assert.True(results[0].GetProperty("result").GetProperty("rows")[0][0].GetInt64() > 0);
        Assert.Equal("permission denied: this needs the scope 'sources:other:read', which your credentials do not grant", results[1].GetProperty("error").GetString());
        Assert.Equal("permission denied: this needs the scope 'tools:my_orders', which your credentials do not grant", results[2].GetProperty("error").GetString());
        Assert.Equal(1, results[3].GetProperty("result").GetProperty("rows")[0][0].GetInt32());
        using var state = new StateStore(StateStore.PathIn(server.Config), TimeSpan.FromDays(1));
        var audit = state.ReadAudit(100);
        Assert.Contains(audit, e => e.Tool == "auth.denied" && e.Principal == "key:batch-reader" && e.Source == "sources:other:read");
        Assert.Contains(audit, e => e.Tool == "auth.denied" && e.Principal == "key:batch-reader" && e.Source == "tools:my_orders");
    }

    [Fact]
    public async Task It_is_listed_only_to_callers_who_may_read_a_source()
    {
        await using var topicsOnly = await server.ConnectAsync(server.CreateKey("batch-topics", "topics:orders:read"));
        Assert.DoesNotContain(BatchQueryTool.ToolName, (await topicsOnly.ListToolsAsync()).Select(t => t.Name));
        await using var reader = await server.ConnectAsync(server.CreateKey("batch-other", "sources:other:read"));
        Assert.Contains(BatchQueryTool.ToolName, (await reader.ListToolsAsync()).Select(t => t.Name));
    }

    [Fact]
    public async Task A_tool_item_binds_its_claim_parameter_from_the_token_whatever_the_item_says()
    {
        var token = await server.Issuer.AuthorizationCodeTokenAsync(server.Resource, "carol", new Dictionary<string, string> { ["customer_id"] = "3" }, "tools:my_orders", "sources:shop:read");
        await using var client = await server.ConnectAsync(token);

        var batch = await client.CallOkAsync(BatchQueryTool.ToolName, new()
        {
            ["items"] = new object[] { new { tool = "my_orders", @params = new { customer_id = 1 } }, new { tool = "my_orders" } },
        });

        foreach (var result in batch.GetProperty("results").EnumerateArray())
        {
            var customers = result.GetProperty("result").GetProperty("rows").EnumerateArray().Select(r => r[1].GetInt64()).Distinct();
            Assert.Equal([3L], customers);
        }
    }

    [Fact]
    public async Task A_get_tool_item_binds_its_claim_from_the_token_and_needs_the_tools_scope()
    {
        var token = await server.Issuer.AuthorizationCodeTokenAsync(server.Resource, "dana", new Dictionary<string, string> { ["customer_id"] = "3" }, "tools:my_tickets", "sources:shop:read");
        await using var client = await server.ConnectAsync(token);
        var before = server.Tracker.Requests.Count;

        var batch = await client.CallOkAsync(BatchQueryTool.ToolName, new()
        {
            ["items"] = new object[] { new { tool = "my_tickets", @params = new { customer_id = 1 } }, new { tool = "my_orders" }, new { tool = "my_tickets" } },
        });

        var results = batch.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal("permission denied: this needs the scope 'tools:my_orders', which your credentials do not grant", results[1].GetProperty("error").GetString());
        Assert.All([results[0], results[2]], r => Assert.Equal("tracker", r.GetProperty("result").GetProperty("source").GetString()));
        Assert.Equal(["/v1/customers/3/tickets"], server.Tracker.Requests.Skip(before).Select(r => r.Target).Distinct());
    }
}

/// <summary>Tributary over HTTP in front of a real PostgreSQL (an empty database), whose source runs 3 items of a batch at once.</summary>
public sealed class PostgresBatchServer : TributaryHttpServer
{
    public PostgresServer Postgres { get; } = new();

    private string _connectionString = "";

    public override async Task InitializeAsync()
    {
        await Postgres.InitializeAsync();
        _connectionString = await Postgres.CreateDatabaseAsync("batch");
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Postgres.DisposeAsync();
    }

    protected override Task<TributaryConfig> CreateConfigAsync() => FromYaml($$"""
        sources:
          pg:
            kind: postgres
            connection_string: "{{_connectionString}}"
            batch_concurrency: 3
        """);
}

public sealed class PostgresBatchQueryTests(PostgresBatchServer server) : IClassFixture<PostgresBatchServer>
{
    [Fact]
    public async Task PostgreSQL_sees_no_more_of_a_batchs_items_at_once_than_the_sources_batch_concurrency()
    {
        using var meters = new ServerMeters(server.Services);
        await using var client = await server.ConnectAsync();
        // Each item counts the probes PostgreSQL is running at that moment (itself included), then sleeps so they overlap.
        const string Probe = "SELECT (SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%batch_probe%') AS running, pg_sleep(0.2) IS NULL AS slept";
        var items = Enumerable.Range(0, 12).Select(_ => new Dictionary<string, object?> { ["source"] = "pg", ["sql"] = Probe }).ToArray();

        var batch = await client.CallOkAsync(BatchQueryTool.ToolName, new() { ["items"] = items });

        var running = batch.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("result").GetProperty("rows")[0][0].GetInt64()).ToList();
        Assert.Equal(12, running.Count);
        Assert.Equal(3, running.Max());
        Assert.Equal(3, meters.Peak("tributary.batch_query.items_in_flight", "source=pg"));
    }
}
