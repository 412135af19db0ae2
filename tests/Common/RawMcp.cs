using System.Net.Http.Headers;
using System.Text;

namespace Tributary.Testing;

/// <summary>MCP requests written by hand, for what the SDK client would not send (a chosen traceparent, a chosen Accept-Encoding).</summary>
public static class RawMcp
{
    /// <summary>
    /// A 2026-07-28 <c>tools/call</c> of <paramref name="tool"/> with <paramref name="arguments"/> (JSON) as one stateless
    /// POST to <paramref name="endpoint"/>; <paramref name="meta"/> (JSON members, such as a traceparent) joins the request's <c>_meta</c>.
    /// </summary>
    public static HttpRequestMessage ToolCall(Uri endpoint, string tool, string arguments, string? meta = null)
    {
        var body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool + "\",\"arguments\":" + arguments
            + ",\"_meta\":{" + (meta is null ? "" : meta + ",")
            + "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{},\"io.modelcontextprotocol/clientInfo\":{\"name\":\"test\",\"version\":\"1\"}}}}";
        var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        request.Headers.Add("MCP-Protocol-Version", "2026-07-28");
        request.Headers.Add("Mcp-Method", "tools/call");
        request.Headers.Add("Mcp-Name", tool);
        return request;
    }
}
