using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using Tributary.Testing;

namespace Tributary.Server.Tests.Mcp;

public sealed class GenerateModelsPromptTests(TributaryHttpServer server) : IClassFixture<TributaryHttpServer>
{
    [Fact]
    public async Task The_prompt_embeds_the_live_schema_and_a_generated_draft()
    {
        await using var client = await server.ConnectAsync();
        Assert.Contains("generate_models", (await client.ListPromptsAsync()).Select(p => p.Name));
        var prompt = await client.GetPromptAsync("generate_models", new Dictionary<string, object?> { ["source"] = "shop", ["target"] = "prisma", ["tables"] = "orders,customers" });
        var text = Assert.IsType<TextContentBlock>(Assert.Single(prompt.Messages).Content).Text;
        Assert.Contains("\"name\":\"order_items\"", text, StringComparison.Ordinal);
        Assert.Contains("model orders {", text, StringComparison.Ordinal);
        Assert.Contains("@relation(\"orders_customer_id\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("model products {", text, StringComparison.Ordinal);

        var bad = await Assert.ThrowsAsync<McpProtocolException>(() => client.GetPromptAsync("generate_models", new Dictionary<string, object?> { ["source"] = "shop", ["target"] = "cobol" }).AsTask());
        Assert.Contains("'target' must be", bad.Message, StringComparison.Ordinal);
        var unknown = await Assert.ThrowsAsync<McpProtocolException>(() => client.GetPromptAsync("generate_models", new Dictionary<string, object?> { ["source"] = "nope", ["target"] = "csharp" }).AsTask());
        Assert.Contains("unknown source", unknown.Message, StringComparison.Ordinal);
    }
}
