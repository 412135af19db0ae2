using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Tributary.Server.Tests.Mcp;

/// <summary>One walk through Tributary's MCP surface, run over every transport and protocol version.</summary>
internal static class SurfaceAssertions
{
    /// <summary>Walks the surface; <paramref name="writable"/> is true for the demo, whose orders accept update_rows and which has topics.</summary>
    public static async Task ExerciseAsync(McpClient client, bool writable = false)
    {
        Assert.Equal("tributary", client.ServerInfo!.Name);
        Assert.Contains("list_sources", client.ServerInstructions, StringComparison.Ordinal);

        var tools = await client.ListToolsAsync();
        Assert.Equal(
            writable ? ["batch_query", "describe_schema", "list_sources", "publish_event", "query", "read_events", "update_rows"] : ["batch_query", "describe_schema", "list_sources", "query"],
            tools.Select(t => t.Name).Order());
        foreach (var tool in tools.Where(t => t.Name is not ("update_rows" or "publish_event")))
        {
            var annotations = tool.ProtocolTool.Annotations!;
            Assert.True(annotations.ReadOnlyHint);
            Assert.False(annotations.OpenWorldHint);
            Assert.False(annotations.DestructiveHint);
            Assert.Equal(JsonValueKind.Object, tool.ProtocolTool.OutputSchema!.Value.ValueKind);
        }

        var sources = await client.CallOkAsync("list_sources");
        var shop = Assert.Single(sources.GetProperty("sources").EnumerateArray().ToList());
        Assert.Equal("shop", shop.GetProperty("name").GetString());
        Assert.Equal("sqlite", shop.GetProperty("kind").GetString());
        Assert.Equal(!writable, shop.GetProperty("read_only").GetBoolean());
        Assert.Equal(7, shop.GetProperty("table_count").GetInt32());

        var schema = await client.CallOkAsync("describe_schema", new() { ["source"] = "shop", ["table"] = "orders" });
        var orders = Assert.Single(schema.GetProperty("tables").EnumerateArray().ToList());
        Assert.Contains(orders.GetProperty("columns").EnumerateArray(), c => c.GetProperty("name").GetString() == "customer_id");

        var result = await client.CallOkAsync("query", new()
        {
            ["source"] = "shop",
            ["sql"] = "SELECT id, status FROM orders WHERE customer_id = @customer ORDER BY id",
            ["params"] = new Dictionary<string, object> { ["customer"] = 1 },
            ["max_rows"] = 2,
        });
        Assert.Equal(["id", "status"], result.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        Assert.InRange(result.GetProperty("row_count").GetInt32(), 1, 2);

        var listed = await client.ListResourcesAsync();
        Assert.Contains(listed, r => r.Uri == "tributary://sources");
        var templates = await client.ListResourceTemplatesAsync();
        Assert.Equal(
            writable
                ? ["tributary://sources/{source}/schema", "tributary://sources/{source}/tables/{table}", "tributary://topics/{topic}{?types,source,min_severity,message,fields,after,limit}"]
                : ["tributary://sources/{source}/schema", "tributary://sources/{source}/tables/{table}"],
            templates.Select(t => t.UriTemplate).Order());

        var sourcesResource = await client.ReadResourceAsync("tributary://sources");
        Assert.Contains("\"shop\"", Text(sourcesResource), StringComparison.Ordinal);
        var schemaResource = await client.ReadResourceAsync("tributary://sources/shop/schema");
        Assert.Equal(7, JsonDocument.Parse(Text(schemaResource)).RootElement.GetProperty("tables").GetArrayLength());
        var tableResource = await client.ReadResourceAsync("tributary://sources/shop/tables/customers");
        Assert.Equal("customers", JsonDocument.Parse(Text(tableResource)).RootElement.GetProperty("tables")[0].GetProperty("name").GetString());

        var reference = new ResourceTemplateReference { Uri = "tributary://sources/{source}/tables/{table}" };
        var sourceNames = await client.CompleteAsync(reference, "source", "sh");
        Assert.Equal(["shop"], sourceNames.Completion.Values);
        var tableNames = await client.CompleteAsync(new CompleteRequestParams
        {
            Ref = reference,
            Argument = new Argument { Name = "table", Value = "order" },
            Context = new CompleteContext { Arguments = new Dictionary<string, string> { ["source"] = "shop" } },
        });
        Assert.Equal(["order_items", "order_summaries", "orders"], tableNames.Completion.Values);
    }

    private static string Text(ReadResourceResult result) => Assert.IsType<TextResourceContents>(Assert.Single(result.Contents)).Text;
}
