using System.Text.Json;
using Microsoft.Data.Sqlite;
using Tributary.Server.Tests.Mcp;

namespace Tributary.Server.Tests.Writes;

public sealed class UpdateRowsTests(ShopToolsServer server) : IClassFixture<ShopToolsServer>
{
    [Fact]
    public async Task An_update_with_the_current_version_applies_and_bumps_the_version()
    {
        await using var client = await server.ConnectAsync();
        var version = Scalar("SELECT version FROM orders WHERE id = 21");
        var result = await client.CallOkAsync("update_rows", new()
        {
            ["source"] = "shop", ["table"] = "orders", ["key"] = new { id = 21 }, ["set"] = new { status = "shipped", note = "left the warehouse" }, ["expected_version"] = version,
        });

        Assert.Equal(version, result.GetProperty("before").GetProperty("version").GetInt64());
        Assert.Equal("shipped", result.GetProperty("after").GetProperty("status").GetString());
        Assert.Equal(version + 1, result.GetProperty("version").GetInt64());
        Assert.False(result.GetProperty("dry_run").GetBoolean());
        Assert.Equal("shipped", Text("SELECT status FROM orders WHERE id = 21"));
        Assert.Equal(version + 1, Scalar("SELECT version FROM orders WHERE id = 21"));

        var audit = await NamedToolTests.ReadAuditAsync(client);
        var entry = audit.EnumerateArray().Single(e => e.GetProperty("id").GetInt64() == result.GetProperty("audit_id").GetInt64());
        Assert.Equal("update_rows", entry.GetProperty("tool").GetString());
        Assert.Equal("{\"id\":21}", entry.GetProperty("key").GetString());
        Assert.Equal("anonymous", entry.GetProperty("principal").GetString());
        Assert.NotEqual(entry.GetProperty("before_digest").GetString(), entry.GetProperty("after_digest").GetString());
    }

    [Fact]
    public async Task A_stale_version_changes_nothing_and_returns_the_current_row()
    {
        await using var client = await server.ConnectAsync();
        var version = Scalar("SELECT version FROM orders WHERE id = 22");
        var message = await client.CallErrorAsync("update_rows", new()
        {
            ["source"] = "shop", ["table"] = "orders", ["key"] = new { id = 22 }, ["set"] = new { status = "cancelled" }, ["expected_version"] = version + 5,
        });

        var conflict = JsonDocument.Parse(message).RootElement;
        Assert.Equal("conflict", conflict.GetProperty("error").GetString());
        Assert.Equal(version, conflict.GetProperty("current_version").GetInt64());
        Assert.Equal(22, conflict.GetProperty("current_row").GetProperty("id").GetInt64());
        Assert.Equal(version, Scalar("SELECT version FROM orders WHERE id = 22"));
    }

    [Fact]
    public async Task A_dry_run_shows_before_and_after_and_writes_nothing()
    {
        await using var client = await server.ConnectAsync();
        var audited = (await NamedToolTests.ReadAuditAsync(client)).GetArrayLength();
        var status = Text("SELECT status FROM orders WHERE id = 23");
        var preview = await client.CallOkAsync("update_rows", new()
        {
            ["source"] = "shop", ["table"] = "orders", ["key"] = new { id = 23 }, ["set"] = new { status = "refunded" }, ["dry_run"] = true,
        });
        Assert.True(preview.GetProperty("dry_run").GetBoolean());
        Assert.Equal(status, preview.GetProperty("before").GetProperty("status").GetString());
        Assert.Equal("refunded", preview.GetProperty("after").GetProperty("status").GetString());
        Assert.False(preview.TryGetProperty("audit_id", out _));
        Assert.Equal(status, Text("SELECT status FROM orders WHERE id = 23"));
        Assert.Equal(audited, (await NamedToolTests.ReadAuditAsync(client)).GetArrayLength());
    }

    [Fact]
    public async Task A_repeated_idempotency_key_returns_the_first_result_without_applying_twice()
    {
        await using var client = await server.ConnectAsync();
        var version = Scalar("SELECT version FROM orders WHERE id = 24");
        var arguments = new Dictionary<string, object?>
        {
            ["source"] = "shop", ["table"] = "orders", ["key"] = new { id = 24 }, ["set"] = new { note = "call me" }, ["idempotency_key"] = "order-24-note",
        };
        var first = await client.CallOkAsync("update_rows", arguments);
        var second = await client.CallOkAsync("update_rows", arguments);
        Assert.Equal(first.GetRawText(), second.GetRawText());
        Assert.Equal(version + 1, Scalar("SELECT version FROM orders WHERE id = 24"));
        var audit = await NamedToolTests.ReadAuditAsync(client);
        Assert.Single(audit.EnumerateArray(), e => e.GetProperty("idempotency_key").GetString() == "order-24-note");
    }

    [Theory]
    [InlineData("""{"source":"shop","table":"customers","key":{"id":1},"set":{"name":"x"}}""", "table 'customers' of source 'shop' is not writable (writable tables: orders)")]
    [InlineData("""{"source":"shop","table":"orders; DROP TABLE orders","key":{"id":1},"set":{"note":"x"}}""", "is not writable (writable tables: orders)")]
    [InlineData("""{"source":"shop","table":"orders","key":{"id":1},"set":{"note; DROP TABLE orders --":"x"}}""", "'set.note; DROP TABLE orders --' is not accepted here (accepted: status, note)")]
    [InlineData("""{"source":"shop","table":"orders","key":{"id":"1 OR 1=1"},"set":{"note":"x"}}""", "'key.id' must be a whole number")]
    [InlineData("""{"source":"shop","table":"orders","key":{"id":1,"customer_id":5},"set":{"note":"x"}}""", "'key.customer_id' is not accepted here (accepted: id)")]
    [InlineData("""{"source":"shop","table":"orders","key":{},"set":{"note":"x"}}""", "'key.id' is required")]
    [InlineData("""{"source":"shop","table":"orders","key":{"id":1},"set":{}}""", "'set' is empty")]
    [InlineData("""{"source":"shop","table":"orders","key":{"id":1},"set":{"status":"lost"}}""", "'set.status' must be one of: pending, paid, shipped, delivered, cancelled, refunded")]
    [InlineData("""{"source":"shop","table":"orders","key":{"id":1},"set":{"version":99}}""", "'set.version' is not accepted here")]
    [InlineData("""{"source":"shop","table":"orders","key":{"id":1},"set":{"total_cents":0}}""", "'set.total_cents' is not accepted here")]
    [InlineData("""{"source":"shop","table":"orders","key":{"id":1},"set":{"note":42}}""", "'set.note' must be a string or null")]
    [InlineData("""{"source":"shop","table":"orders","key":{"id":1},"set":{"status":null}}""", "'set.status' must be a string")]
    [InlineData("""{"source":"shop","table":"orders","key":{"id":1},"set":{"note":"a\u0000b"}}""", "'set.note' contains a NUL character")]
    [InlineData("""{"source":"shop","table":"orders","key":{"id":999999},"set":{"note":"x"}}""", "no row of 'orders' has the key {id: 999999}")]
    [InlineData("""{"source":"shop","table":"orders","key":{"id":1},"set":{"note":"x"},"expected_version":{"v":1}}""", "'expected_version' must be a number or a string")]
    [InlineData("""{"source":"shop","table":"orders","key":[1],"set":{"note":"x"}}""", "'key' must be an object")]
    [InlineData("""{"source":"nope","table":"orders","key":{"id":1},"set":{"note":"x"}}""", "unknown source 'nope'")]
    public async Task Bad_updates_are_tool_errors_that_change_nothing(string arguments, string expected)
    {
        await using var client = await server.ConnectAsync();
        var before = Text("SELECT group_concat(id || status || coalesce(note, '') || version) FROM orders WHERE id <= 3");
        var tables = Scalar("SELECT count(*) FROM sqlite_master");
        var message = await client.CallErrorAsync("update_rows", JsonSerializer.Deserialize<Dictionary<string, object?>>(arguments)!);
        Assert.Contains(expected, message, StringComparison.Ordinal);
        Assert.Equal(before, Text("SELECT group_concat(id || status || coalesce(note, '') || version) FROM orders WHERE id <= 3"));
        Assert.Equal(tables, Scalar("SELECT count(*) FROM sqlite_master"));
    }

    [Fact]
    public async Task Values_that_look_like_sql_are_stored_as_they_are()
    {
        await using var client = await server.ConnectAsync();
        const string note = "'; DROP TABLE orders; -- \" OR 1=1 /*";
        var result = await client.CallOkAsync("update_rows", new() { ["source"] = "shop", ["table"] = "orders", ["key"] = new { id = 25 }, ["set"] = new { note } });
        Assert.Equal(note, result.GetProperty("after").GetProperty("note").GetString());
        Assert.Equal(note, Text("SELECT note FROM orders WHERE id = 25"));
        Assert.Equal(60_000, Scalar("SELECT count(*) FROM orders"));
    }

    [Fact]
    public async Task The_query_tool_still_refuses_writes_on_a_writable_source()
    {
        await using var client = await server.ConnectAsync();
        var message = await client.CallErrorAsync("query", new() { ["source"] = "shop", ["sql"] = "UPDATE orders SET note = 'x' WHERE id = 1" });
        Assert.Contains("read-only", message, StringComparison.Ordinal);
        var sources = await client.CallOkAsync("list_sources");
        var shop = sources.GetProperty("sources")[0];
        Assert.False(shop.GetProperty("read_only").GetBoolean());
        Assert.Equal(["orders"], shop.GetProperty("writable_tables").EnumerateArray().Select(t => t.GetString()));
    }

    private long Scalar(string sql) => (long)Run(sql)!;

    private string? Text(string sql) => Run(sql) as string;

    private object? Run(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={server.DatabasePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = new SqliteCommand(sql, connection);
        return command.ExecuteScalar();
    }
}
