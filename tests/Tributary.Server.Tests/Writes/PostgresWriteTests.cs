using System.Text.Json;
using ModelContextProtocol.Protocol;
using Tributary.Server.Tests.Mcp;

namespace Tributary.Server.Tests.Writes;

public sealed class PostgresWriteTests(PostgresToolsServer server) : IClassFixture<PostgresToolsServer>
{
    [Fact]
    public async Task Thirty_two_writers_with_one_version_give_one_success_and_thirty_one_conflicts()
    {
        await using var client = await server.ConnectAsync();
        var version = await server.ScalarAsync<int>("SELECT version FROM orders WHERE id = 100");
        var audited = (await NamedToolTests.ReadAuditAsync(client)).EnumerateArray().Count(e => e.GetProperty("key").GetString() == "{\"id\":100}");

        var calls = Enumerable.Range(0, 32).Select(i => client.CallToolAsync("update_rows", new Dictionary<string, object?>
        {
            ["source"] = "pg", ["table"] = "orders", ["key"] = new { id = 100 }, ["set"] = new { note = $"writer {i}" }, ["expected_version"] = version,
        }).AsTask());
        var results = await Task.WhenAll(calls);

        var successes = results.Where(r => r.IsError is not true).ToList();
        var conflicts = results.Where(r => r.IsError is true).Select(r => JsonDocument.Parse(((TextContentBlock)r.Content[0]).Text).RootElement).ToList();
        Assert.Single(successes);
        Assert.Equal(31, conflicts.Count);
        Assert.All(conflicts, c => Assert.Equal("conflict", c.GetProperty("error").GetString()));
        Assert.All(conflicts, c => Assert.Equal(version + 1, c.GetProperty("current_version").GetInt32()));

        var winner = JsonDocument.Parse(((TextContentBlock)successes[0].Content[0]).Text).RootElement.GetProperty("after").GetProperty("note").GetString();
        Assert.Equal(winner, await server.ScalarAsync<string>("SELECT note FROM orders WHERE id = 100"));
        Assert.Equal(version + 1, await server.ScalarAsync<int>("SELECT version FROM orders WHERE id = 100"));
        var audit = await NamedToolTests.ReadAuditAsync(client);
        Assert.Equal(audited + 1, audit.EnumerateArray().Count(e => e.GetProperty("key").GetString() == "{\"id\":100}"));
    }

    [Fact]
    public async Task Enum_and_width_rules_come_from_the_live_schema()
    {
        await using var client = await server.ConnectAsync();
        var status = await client.CallErrorAsync("update_rows", new() { ["source"] = "pg", ["table"] = "orders", ["key"] = new { id = 5 }, ["set"] = new { status = "lost" } });
        Assert.Contains("'set.status' must be one of: pending, paid, shipped, delivered, cancelled", status, StringComparison.Ordinal);
        var note = await client.CallErrorAsync("update_rows", new() { ["source"] = "pg", ["table"] = "orders", ["key"] = new { id = 5 }, ["set"] = new { note = new string('n', 201) } });
        Assert.Contains("at most 200 characters", note, StringComparison.Ordinal);

        var changed = await client.CallOkAsync("update_rows", new() { ["source"] = "pg", ["table"] = "orders", ["key"] = new { id = 5 }, ["set"] = new { status = "delivered" } });
        Assert.Equal("delivered", changed.GetProperty("after").GetProperty("status").GetString());
        Assert.Equal("delivered", await server.ScalarAsync<string>("SELECT status::text FROM orders WHERE id = 5"));
    }

    [Fact]
    public async Task Without_a_version_column_the_row_xmin_is_the_version()
    {
        await using var client = await server.ConnectAsync();
        var first = await client.CallOkAsync("update_rows", new() { ["source"] = "pg", ["table"] = "customers", ["key"] = new { id = 7 }, ["set"] = new { name = "Seven" } });
        var xmin = first.GetProperty("version").GetString();
        Assert.Equal(xmin, await server.ScalarAsync<string>("SELECT xmin::text FROM customers WHERE id = 7"));

        var second = await client.CallOkAsync("update_rows", new() { ["source"] = "pg", ["table"] = "customers", ["key"] = new { id = 7 }, ["set"] = new { name = "Seven again" }, ["expected_version"] = xmin });
        var stale = await client.CallErrorAsync("update_rows", new() { ["source"] = "pg", ["table"] = "customers", ["key"] = new { id = 7 }, ["set"] = new { name = "Lost update" }, ["expected_version"] = xmin });
        Assert.Contains("\"error\":\"conflict\"", stale, StringComparison.Ordinal);
        Assert.Equal("Seven again", await server.ScalarAsync<string>("SELECT name FROM customers WHERE id = 7"));
        Assert.NotEqual(xmin, second.GetProperty("version").GetString());
    }

    [Fact]
    public async Task Named_tools_bind_typed_parameters_on_postgres()
    {
        await using var client = await server.ConnectAsync();
        var orders = await client.CallOkAsync("customer_orders", new() { ["customer_id"] = 3, ["since"] = "2024-03-01T00:00:00Z" });
        var direct = await server.ScalarAsync<long>("SELECT count(*) FROM orders WHERE customer_id = 3 AND created_at >= '2024-03-01T00:00:00Z'");
        Assert.Equal(direct, orders.GetProperty("row_count").GetInt64());

        var injected = await client.CallErrorAsync("set_order_status", new() { ["order_id"] = 9, ["status"] = "paid'; DROP TABLE orders; --" });
        Assert.Contains("must be one of", injected, StringComparison.Ordinal);
        var set = await client.CallOkAsync("set_order_status", new() { ["order_id"] = 9, ["status"] = "cancelled" });
        Assert.Equal(1, set.GetProperty("rows_affected").GetInt32());
        Assert.Equal("cancelled", set.GetProperty("rows")[0].GetProperty("status").GetString());
        Assert.Equal(5000, await server.ScalarAsync<long>("SELECT count(*) FROM orders"));
    }

    [Fact]
    public async Task Injection_through_update_rows_fields_is_only_ever_a_value()
    {
        await using var client = await server.ConnectAsync();
        const string note = "'; DROP TABLE orders; -- \" OR 1=1 /* $$ $tag$";
        var result = await client.CallOkAsync("update_rows", new() { ["source"] = "pg", ["table"] = "orders", ["key"] = new { id = 11 }, ["set"] = new { note } });
        Assert.Equal(note, result.GetProperty("after").GetProperty("note").GetString());
        Assert.Equal(note, await server.ScalarAsync<string>("SELECT note FROM orders WHERE id = 11"));

        var column = await client.CallErrorAsync("update_rows", new()
        {
            ["source"] = "pg", ["table"] = "orders", ["key"] = new { id = 11 }, ["set"] = new Dictionary<string, object?> { ["note\" = 'x', \"status"] = "x" },
        });
        Assert.Contains("is not accepted here", column, StringComparison.Ordinal);
        var table = await client.CallErrorAsync("update_rows", new() { ["source"] = "pg", ["table"] = "orders\"; DROP TABLE orders; --", ["key"] = new { id = 11 }, ["set"] = new { note = "x" } });
        Assert.Contains("is not writable", table, StringComparison.Ordinal);
        var key = await client.CallErrorAsync("update_rows", new() { ["source"] = "pg", ["table"] = "orders", ["key"] = new { id = "11 OR 1=1" }, ["set"] = new { note = "x" } });
        Assert.Contains("'key.id' must be a whole number", key, StringComparison.Ordinal);

        Assert.Equal(5000, await server.ScalarAsync<long>("SELECT count(*) FROM orders"));
        Assert.Equal(1, await server.ScalarAsync<long>("SELECT count(*) FROM orders WHERE note = 'x' OR id = 11"));
    }

    [Theory]
    [InlineData("COMMIT; DROP TABLE orders")]
    [InlineData("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")]
    [InlineData("WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d")]
    [InlineData("SELECT set_config('default_transaction_read_only', 'off', false)")]
    public async Task The_query_tool_stays_read_only_on_a_writable_postgres_source(string sql)
    {
        await using var client = await server.ConnectAsync();
        await client.CallErrorAsync("query", new() { ["source"] = "pg", ["sql"] = sql });
        Assert.Equal(5000, await server.ScalarAsync<long>("SELECT count(*) FROM orders"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("2025-11-25")]
    public async Task A_cancelled_call_cancels_its_statement_on_the_server(string? protocolVersion)
    {
        await using var client = await server.ConnectAsync(protocolVersion: protocolVersion);
        var marker = $"cancelled_{protocolVersion?.Replace("-", "", StringComparison.Ordinal) ?? "default"}";
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            client.CallToolAsync("query", new Dictionary<string, object?> { ["source"] = "pg", ["sql"] = $"SELECT pg_sleep(30) AS {marker}" }, cancellationToken: cancel.Token).AsTask());

        // The cancel travels client → Tributary → PostgreSQL asynchronously: allow it a bounded moment.
        long running = -1;
        for (var attempt = 0; attempt < 50 && running != 0; attempt++)
        {
            await Task.Delay(100);
            running = await server.ScalarAsync<long>($"SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%AS {marker}%' AND pid <> pg_backend_pid()");
        }

        Assert.Equal(0, running);
    }
}
