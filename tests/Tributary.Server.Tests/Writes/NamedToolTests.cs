using System.Text.Json;
using Microsoft.Data.Sqlite;
using ModelContextProtocol.Client;
using Tributary.Server.Tests.Mcp;

namespace Tributary.Server.Tests.Writes;

public sealed class NamedToolTests(ShopToolsServer server) : IClassFixture<ShopToolsServer>
{
    [Fact]
    public async Task Each_configured_statement_is_a_tool_with_a_schema_from_its_parameters()
    {
        await using var client = await server.ConnectAsync();
        var tools = (await client.ListToolsAsync()).ToDictionary(t => t.Name);
        Assert.Superset(new HashSet<string> { "user_data", "user_orders", "analytics", "error_logs", "add_order_note", "update_rows" }, tools.Keys.ToHashSet());

        var schema = tools["user_orders"].ProtocolTool.InputSchema;
        Assert.False(schema.GetProperty("additionalProperties").GetBoolean());
        Assert.Equal("integer", schema.GetProperty("properties").GetProperty("customer_id").GetProperty("type").GetString());
        Assert.Equal(1, schema.GetProperty("properties").GetProperty("customer_id").GetProperty("minimum").GetInt32());
        Assert.Equal("date-time", schema.GetProperty("properties").GetProperty("since").GetProperty("format").GetString());
        Assert.Equal("2020-01-01T00:00:00Z", schema.GetProperty("properties").GetProperty("since").GetProperty("default").GetString());
        Assert.Equal(["customer_id"], schema.GetProperty("required").EnumerateArray().Select(e => e.GetString()));

        var read = tools["user_orders"].ProtocolTool.Annotations!;
        Assert.True(read.ReadOnlyHint);
        var write = tools["add_order_note"].ProtocolTool.Annotations!;
        Assert.False(write.ReadOnlyHint);
        Assert.True(write.DestructiveHint);
        Assert.False(write.IdempotentHint);
        Assert.True(tools["add_order_note"].ProtocolTool.InputSchema.GetProperty("properties").TryGetProperty("idempotency_key", out _));
    }

    [Fact]
    public async Task A_named_query_binds_its_arguments_and_applies_defaults()
    {
        await using var client = await server.ConnectAsync();
        var orders = await client.CallOkAsync("user_orders", new() { ["customer_id"] = 42 });
        var direct = Count($"SELECT count(*) FROM orders WHERE customer_id = 42");
        Assert.Equal(direct, orders.GetProperty("row_count").GetInt32());

        var recent = await client.CallOkAsync("user_orders", new() { ["customer_id"] = 42, ["since"] = "2025-06-01T00:00:00Z" });
        Assert.True(recent.GetProperty("row_count").GetInt32() < direct);

        var user = await client.CallOkAsync("user_data", new() { ["customer_id"] = 42 });
        Assert.Equal(42, user.GetProperty("rows")[0][0].GetInt32());
        Assert.Equal(direct, user.GetProperty("rows")[0][7].GetInt64());

        var day = await client.CallOkAsync("analytics", new() { ["from"] = "2025-03-01", ["to"] = "2025-03-08", ["status"] = "delivered" });
        Assert.Equal(7, day.GetProperty("row_count").GetInt32());
        var all = await client.CallOkAsync("analytics", new() { ["from"] = "2025-03-01", ["to"] = "2025-03-08" });
        Assert.True(all.GetProperty("rows")[0][1].GetInt64() > day.GetProperty("rows")[0][1].GetInt64());

        var logs = await client.CallOkAsync("error_logs", new() { ["service"] = "payments-api" });
        Assert.Equal(50, logs.GetProperty("row_count").GetInt32());
        Assert.All(logs.GetProperty("rows").EnumerateArray(), r => Assert.Equal("payments-api", r[2].GetString()));
    }

    [Theory]
    [InlineData("""{"customer_id":"42"}""", "'customer_id' must be a whole number")]
    [InlineData("""{"customer_id":4.5}""", "'customer_id' must be a whole number")]
    [InlineData("""{"customer_id":0}""", "'customer_id' must be at least 1 (minimum)")]
    [InlineData("""{}""", "'customer_id' is required")]
    [InlineData("""{"customer_id":1,"admin":true}""", "'admin' is not accepted here (accepted: customer_id, since)")]
    [InlineData("""{"customer_id":1,"since":"yesterday"}""", "'since' must be a date-time")]
    [InlineData("""{"customer_id":1,"since":"2020-01-01T00:00:00Z\u0000"}""", "'since' contains a NUL character")]
    public async Task Bad_arguments_are_tool_errors_naming_the_field_and_the_rule(string arguments, string expected)
    {
        await using var client = await server.ConnectAsync();
        var message = await client.CallErrorAsync("user_orders", JsonSerializer.Deserialize<Dictionary<string, object?>>(arguments)!);
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_one_megabyte_string_is_refused_by_its_length_rule()
    {
        // 1,000,000 characters: just under the HTTP body limit (1 MiB), which answers 413 to anything larger.
        await using var client = await server.ConnectAsync();
        var message = await client.CallErrorAsync("error_logs", new() { ["service"] = new string('x', 1_000_000) });
        Assert.Contains("'service' must have at most 64 characters (max_length)", message, StringComparison.Ordinal);
        var note = await client.CallErrorAsync("add_order_note", new() { ["order_id"] = 1, ["note"] = new string('x', 600) });
        Assert.Contains("'note' must have at most 500 characters", note, StringComparison.Ordinal);
        Assert.Equal(0, Count("SELECT count(*) FROM orders WHERE length(note) > 500"));
    }

    [Theory]
    [InlineData("' OR '1'='1")]
    [InlineData("payments-api'; DELETE FROM orders; --")]
    [InlineData("x\" OR 1=1 --")]
    [InlineData("/* */ UNION SELECT name FROM sqlite_master --")]
    public async Task Injection_through_a_parameter_is_only_a_value(string service)
    {
        await using var client = await server.ConnectAsync();
        var before = Count("SELECT count(*) FROM orders");
        var logs = await client.CallOkAsync("error_logs", new() { ["service"] = service[..Math.Min(service.Length, 64)] });
        Assert.Equal(0, logs.GetProperty("row_count").GetInt32());

        var note = await client.CallOkAsync("add_order_note", new() { ["order_id"] = 3, ["note"] = service });
        Assert.Equal(1, note.GetProperty("rows_affected").GetInt32());
        Assert.Equal(service, note.GetProperty("rows")[0].GetProperty("note").GetString());
        Assert.Equal(before, Count("SELECT count(*) FROM orders"));
        Assert.Equal(1, Count("SELECT count(*) FROM sqlite_master WHERE name = 'orders'"));
    }

    [Fact]
    public async Task A_named_write_runs_in_one_transaction_with_dry_run_idempotency_and_audit()
    {
        await using var client = await server.ConnectAsync();
        var version = Count("SELECT version FROM orders WHERE id = 11");

        var preview = await client.CallOkAsync("add_order_note", new() { ["order_id"] = 11, ["note"] = "gift wrap", ["dry_run"] = true });
        Assert.True(preview.GetProperty("dry_run").GetBoolean());
        Assert.Equal(version + 1, preview.GetProperty("rows")[0].GetProperty("version").GetInt64());
        Assert.Equal(version, Count("SELECT version FROM orders WHERE id = 11"));

        var key = Guid.NewGuid().ToString();
        var first = await client.CallToolAsync("add_order_note", new Dictionary<string, object?> { ["order_id"] = 11, ["note"] = "gift wrap", ["idempotency_key"] = key });
        var again = await client.CallToolAsync("add_order_note", new Dictionary<string, object?> { ["order_id"] = 11, ["note"] = "gift wrap", ["idempotency_key"] = key });
        Assert.Equal(Text(first), Text(again));
        Assert.Equal(version + 1, Count("SELECT version FROM orders WHERE id = 11"));

        var reused = await client.CallErrorAsync("add_order_note", new() { ["order_id"] = 11, ["note"] = "other", ["idempotency_key"] = key });
        Assert.Contains("different arguments", reused, StringComparison.Ordinal);

        var auditId = JsonDocument.Parse(Text(first)).RootElement.GetProperty("audit_id").GetInt64();
        var audit = await ReadAuditAsync(client);
        var entry = audit.EnumerateArray().Single(e => e.GetProperty("id").GetInt64() == auditId);
        Assert.Equal("add_order_note", entry.GetProperty("tool").GetString());
        Assert.Equal("orders", entry.GetProperty("table").GetString());
        Assert.Equal(key, entry.GetProperty("idempotency_key").GetString());
        Assert.Equal(1, audit.EnumerateArray().Count(e => e.GetProperty("idempotency_key").GetString() == key));
    }

    internal static async Task<JsonElement> ReadAuditAsync(McpClient client)
    {
        var resource = await client.ReadResourceAsync("tributary://audit");
        var text = Assert.IsType<ModelContextProtocol.Protocol.TextResourceContents>(Assert.Single(resource.Contents)).Text;
        return JsonDocument.Parse(text).RootElement.GetProperty("entries");
    }

    private static string Text(ModelContextProtocol.Protocol.CallToolResult result) =>
        Assert.IsType<ModelContextProtocol.Protocol.TextContentBlock>(Assert.Single(result.Content)).Text;

    private long Count(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={server.DatabasePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = new SqliteCommand(sql, connection);
        return (long)command.ExecuteScalar()!;
    }
}
