using System.Text.Json;
using Tributary.Testing;

namespace Tributary.Server.Tests.Mcp;

public sealed class QueryToolTests(TributaryHttpServer server) : IClassFixture<TributaryHttpServer>
{
    [Fact]
    public async Task Next_cursor_continues_the_same_query_until_the_end()
    {
        await using var client = await server.ConnectAsync();
        var ids = new List<long>();
        var arguments = new Dictionary<string, object?> { ["source"] = "shop", ["sql"] = "SELECT id FROM orders WHERE id <= ? ORDER BY id", ["params"] = new[] { 7 }, ["max_rows"] = 3 };
        var pages = 0;
        while (true)
        {
            var page = await client.CallOkAsync("query", arguments);
            pages++;
            ids.AddRange(page.GetProperty("rows").EnumerateArray().Select(r => r[0].GetInt64()));
            if (!page.GetProperty("truncated").GetBoolean())
            {
                Assert.False(page.TryGetProperty("next_cursor", out _));
                break;
            }

            arguments = new() { ["cursor"] = page.GetProperty("next_cursor").GetString() };
        }

        Assert.Equal(3, pages);
        Assert.Equal([1L, 2, 3, 4, 5, 6, 7], ids);
    }

    [Fact]
    public async Task The_default_row_cap_is_500_and_flags_truncation()
    {
        await using var client = await server.ConnectAsync();
        var page = await client.CallOkAsync("query", new() { ["source"] = "shop", ["sql"] = "SELECT id FROM orders" });
        Assert.Equal(500, page.GetProperty("row_count").GetInt32());
        Assert.True(page.GetProperty("truncated").GetBoolean());
    }

    [Theory]
    [InlineData("""{"cursor":"eyJzIjoic2hvcCJ9AAAAAAAAAAAAAAAAAAAAAA"}""", "cursor is not valid")]
    [InlineData("""{"cursor":"abc"}""", "cursor is not valid")]
    [InlineData("""{"source":"nope","sql":"SELECT 1"}""", "unknown source 'nope' (sources: shop)")]
    [InlineData("""{"source":"shop"}""", "'sql' is required")]
    [InlineData("""{"sql":"SELECT 1"}""", "'source' is required")]
    [InlineData("""{"source":"shop","sql":"SELECT 1","max_rows":0}""", "'max_rows' must be between 1 and 10000")]
    [InlineData("""{"source":"shop","sql":"SELECT 1","max_rows":100000}""", "'max_rows' must be between 1 and 10000")]
    [InlineData("""{"source":"shop","sql":"SELECT 1","max_rows":"ten"}""", "'max_rows' must be a whole number")]
    [InlineData("""{"source":"shop","sql":"SELECT 1","params":"x"}""", "'params' must be an object")]
    [InlineData("""{"source":"shop","sql":"DELETE FROM orders"}""", "source 'shop' is read-only")]
    [InlineData("""{"source":"shop","sql":"SELECT * FROM nope"}""", "no such table: nope")]
    public async Task Bad_arguments_are_tool_errors_the_model_can_act_on(string arguments, string expected)
    {
        await using var client = await server.ConnectAsync();
        var before = DemoDatabase.Hash(server.DatabasePath);

        var message = await client.CallErrorAsync("query", JsonSerializer.Deserialize<Dictionary<string, object?>>(arguments)!);

        Assert.Contains(expected, message, StringComparison.Ordinal);
        Assert.Equal(before, DemoDatabase.Hash(server.DatabasePath));
    }

    [Fact]
    public async Task A_cursor_cannot_be_replayed_against_another_query()
    {
        await using var client = await server.ConnectAsync();
        var page = await client.CallOkAsync("query", new() { ["source"] = "shop", ["sql"] = "SELECT id FROM orders", ["max_rows"] = 1 });
        var message = await client.CallErrorAsync("query", new() { ["cursor"] = page.GetProperty("next_cursor").GetString(), ["sql"] = "SELECT email FROM customers" });
        Assert.Contains("different query", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_sources_and_tables_list_the_valid_names()
    {
        await using var client = await server.ConnectAsync();
        Assert.Contains("(sources: shop)", await client.CallErrorAsync("describe_schema", new() { ["source"] = "shp" }), StringComparison.Ordinal);
        var table = await client.CallErrorAsync("describe_schema", new() { ["source"] = "shop", ["table"] = "ordrs" });
        Assert.Contains("orders", table, StringComparison.Ordinal);
        Assert.Contains("customers", table, StringComparison.Ordinal);
    }
}
