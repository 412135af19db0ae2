using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Tributary.Server.Tests.Mcp;

internal static class McpClientExtensions
{
    /// <summary>Calls a tool that must succeed and returns its structured content, checking the text carries the same JSON.</summary>
    public static async Task<JsonElement> CallOkAsync(this McpClient client, string tool, Dictionary<string, object?>? arguments = null)
    {
        var result = await client.CallToolAsync(tool, arguments ?? []);
        var text = Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;
        Assert.True(result.IsError is not true, text);
        var structured = Assert.IsType<JsonElement>(result.StructuredContent);
        Assert.Equal(structured.GetRawText(), JsonDocument.Parse(text).RootElement.GetRawText());
        return structured;
    }

    /// <summary>Calls a tool that must fail with a tool error and returns its message.</summary>
    public static async Task<string> CallErrorAsync(this McpClient client, string tool, Dictionary<string, object?> arguments)
    {
        var result = await client.CallToolAsync(tool, arguments);
        Assert.True(result.IsError);
        return Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;
    }
}
