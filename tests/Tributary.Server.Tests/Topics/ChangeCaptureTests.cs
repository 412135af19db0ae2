using System.Text.Json;
using Microsoft.Data.Sqlite;
using Tributary.Core.Configuration;
using Tributary.Server.Tests.Mcp;
using Tributary.Testing;

namespace Tributary.Server.Tests.Topics;

/// <summary>Tributary capturing changes of the demo's orders into the orders topic.</summary>
public class CaptureServer : TributaryHttpServer
{
    public CaptureServer()
    {
    }

    public CaptureServer(string databasePath, string dataDirectory)
        : base(databasePath, dataDirectory)
    {
    }

    /// <summary>The source's <c>capture:</c> mapping.</summary>
    protected virtual string Captures => "{ orders: { topic: orders, operations: [insert, update], columns: [id, status, version] } }";

    protected override Task<TributaryConfig> CreateConfigAsync() => FromYaml($$"""
        sources:
          shop:
            kind: sqlite
            path: {{DatabasePath}}
            writable: true
            tables:
              orders: { version_column: version, columns: { status: {}, note: {} } }
            capture: {{Captures}}
        topics:
          orders: { description: Changes of orders }
        """);
}

/// <summary>Tributary asked to capture a table that is not there yet, and a column that is not there.</summary>
public sealed class MissingTableServer(string databasePath, string dataDirectory) : CaptureServer(databasePath, dataDirectory)
{
    protected override string Captures => "{ refunds: { topic: orders }, orders: { topic: orders, columns: [id, colour] } }";
}

public sealed class ChangeCaptureTests
{
    [Fact]
    public async Task Changes_by_tributary_and_by_other_programs_become_events_once_across_a_restart()
    {
        var database = DemoDatabase.Copy();
        var data = TestPaths.NewTempDirectory();
        await using (var first = new CaptureServer(database, data))
        {
            await first.InitializeAsync();
            await WaitForTriggersAsync(database);
            await using var client = await first.ConnectAsync();
            await client.CallOkAsync("update_rows", new() { ["source"] = "shop", ["table"] = "orders", ["key"] = new { id = 5 }, ["set"] = new { status = "shipped" } });
            Execute(database, "UPDATE orders SET status = 'refunded', version = version + 1 WHERE id = 6");
            var events = await WaitForAsync(client, 2);
            Assert.Equal(["orders.update", "orders.update"], events.Select(e => e.GetProperty("type").GetString()));
            Assert.Equal(5, events[0].GetProperty("data").GetProperty("row").GetProperty("id").GetInt32());
            Assert.Equal("shipped", events[0].GetProperty("data").GetProperty("row").GetProperty("status").GetString());
            Assert.Equal("refunded", events[1].GetProperty("data").GetProperty("row").GetProperty("status").GetString());
            Assert.False(events[0].GetProperty("data").GetProperty("row").TryGetProperty("note", out _));
            Assert.Equal("capture:shop", events[0].GetProperty("source").GetString());

            // Delivered changes are deleted through Tributary's own connection (update_rows' guarded one may not).
            await TopicReading.WaitUntilAsync(() => Task.FromResult(Scalar(database, "SELECT count(*) FROM _tributary_changes") == 0), "the change table to be pruned");
            await first.DisposeAsync();
        }

        // While Tributary is down, another program writes; after the restart that change arrives, and the earlier ones are not repeated.
        Execute(database, "INSERT INTO orders (customer_id, status, total_cents, created_at) VALUES (1, 'pending', 100, '2026-01-01T00:00:00Z')");
        await using var second = new CaptureServer(database, data);
        await second.InitializeAsync();
        await using var again = await second.ConnectAsync();
        var all = await WaitForAsync(again, 3);
        Assert.Equal(["orders.update", "orders.update", "orders.insert"], all.Select(e => e.GetProperty("type").GetString()));
        Assert.Equal(3, all.Select(e => e.GetProperty("data").GetProperty("change_id").GetInt64()).Distinct().Count());
        await Task.Delay(500);
        Assert.Equal(3, (await WaitForAsync(again, 3)).Count);
    }

    [Fact]
    public async Task A_missing_table_or_column_is_logged_and_capture_starts_once_the_table_is_there()
    {
        var database = DemoDatabase.Copy();
        await using var server = new MissingTableServer(database, TestPaths.NewTempDirectory());
        await server.InitializeAsync();
        await using var client = await server.ConnectAsync();
        await TopicReading.WaitUntilAsync(() => Task.FromResult(server.Logs.Lines.Any(l => l.Contains("cannot start", StringComparison.Ordinal))), "the capture's set-up error");
        var error = server.Logs.Lines.First(l => l.Contains("cannot start", StringComparison.Ordinal));
        Assert.StartsWith("Error", error, StringComparison.Ordinal);
        Assert.Contains("table 'refunds' does not exist, so it cannot be captured", error, StringComparison.Ordinal);
        Assert.Contains("table 'orders' has no column 'colour'", error, StringComparison.Ordinal);

        // Nothing was installed, so nothing half-done: no change table, no trigger.
        Assert.Equal(0, Scalar(database, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%tributary%'"));
        await client.CallOkAsync("query", new() { ["source"] = "shop", ["sql"] = "SELECT count(*) FROM orders" });

        // A migration adds the table and the column: capture starts without a restart.
        Execute(database, "CREATE TABLE refunds (id INTEGER PRIMARY KEY, amount INTEGER); ALTER TABLE orders ADD COLUMN colour TEXT");
        await TopicReading.WaitUntilAsync(() => Task.FromResult(Scalar(database, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = '_tributary_refunds_insert'") == 1), "the capture's trigger", seconds: 60);
        Execute(database, "INSERT INTO refunds (amount) VALUES (250)");
        var events = await WaitForAsync(client, 1);
        Assert.Equal(250, TopicReading.Row(Assert.Single(events)).GetProperty("amount").GetInt32());
    }

    private static async Task<List<JsonElement>> WaitForAsync(ModelContextProtocol.Client.McpClient client, int count)
    {
        var events = new List<JsonElement>();
        for (var attempt = 0; attempt < 100 && events.Count < count; attempt++)
        {
            var read = await client.CallOkAsync("read_events", new() { ["topic"] = "orders", ["after"] = 0 });
            events = read.GetProperty("events").EnumerateArray().ToList();
            if (events.Count < count)
            {
                await Task.Delay(100);
            }
        }

        return events;
    }

    /// <summary>Waits for the capture's triggers: they are installed moments after the host starts, and changes before that are not captured.</summary>
    internal static Task WaitForTriggersAsync(string database) =>
        TopicReading.WaitUntilAsync(() => Task.FromResult(Scalar(database, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE '\\_tributary\\_%' ESCAPE '\\'") > 0), "the capture's triggers");

    private static long Scalar(string database, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        connection.Open();
        using var command = new SqliteCommand(sql, connection);
        return (long)command.ExecuteScalar()!;
    }

    internal static void Execute(string database, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        connection.Open();
        using var command = new SqliteCommand(sql, connection);
        command.ExecuteNonQuery();
    }
}
