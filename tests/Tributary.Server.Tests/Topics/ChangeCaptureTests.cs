using System.Text.Json;
using Microsoft.Data.Sqlite;
using Tributary.Core.Configuration;
using Tributary.Server.Hosting;
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

    protected override Task<TributaryConfig> CreateConfigAsync() => Task.FromResult(new ConfigLoader(SourceProviders.All).Load($$"""
        server:
          data_dir: {{DataDirectory}}
        sources:
          shop:
            kind: sqlite
            path: {{DatabasePath}}
            writable: true
            tables:
              orders: { version_column: version, columns: { status: {}, note: {} } }
            capture:
              orders: { topic: orders, operations: [insert, update], columns: [id, status, version] }
        topics:
          orders: { description: Changes of orders }
        """, DataDirectory));
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

    private static void Execute(string database, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        connection.Open();
        using var command = new SqliteCommand(sql, connection);
        command.ExecuteNonQuery();
    }
}
