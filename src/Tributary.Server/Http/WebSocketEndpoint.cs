using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Server;
using Tributary.WebSockets;

namespace Tributary.Server.Http;

/// <summary>
/// <c>/ws</c>: MCP over WebSocket (subprotocol <c>mcp</c>), one session per connection, behind the same Host and Origin
/// checks and authentication as <c>/mcp</c>. Messages over <c>server.max_request_bytes</c> close the socket (1009).
/// </summary>
internal sealed class WebSocketEndpoint(IOptions<McpServerOptions> options, ILoggerFactory loggers, Core.Configuration.TributaryConfig config)
{
    /// <summary>The path.</summary>
    public const string Path = "/ws";

    /// <summary>Accepts the socket and runs an MCP session on it until either end closes it.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await HttpSafetyMiddleware.RejectAsync(context, StatusCodes.Status400BadRequest, "this endpoint speaks MCP over WebSocket: open a WebSocket with the subprotocol 'mcp' (or use /mcp for HTTP)");
            return;
        }

        if (!context.WebSockets.WebSocketRequestedProtocols.Contains(WebSocketTransport.SubProtocol))
        {
            await HttpSafetyMiddleware.RejectAsync(context, StatusCodes.Status400BadRequest, "ask for the WebSocket subprotocol 'mcp' (Sec-WebSocket-Protocol: mcp)");
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync(WebSocketTransport.SubProtocol);
        var user = context.User.Identity?.IsAuthenticated == true ? context.User : null;
        await using var transport = new WebSocketTransport(socket, "WebSocket " + context.Connection.RemoteIpAddress, user, (int)Math.Min(int.MaxValue, config.Server.MaxRequestBytes), loggers);
        await using var server = McpServer.Create(transport, options.Value, loggers, context.RequestServices);
        try
        {
            await server.RunAsync(context.RequestAborted);
        }
        catch (Exception e) when (e is System.Net.WebSockets.WebSocketException || (e is OperationCanceledException && context.RequestAborted.IsCancellationRequested))
        {
            // The client went away (without the closing handshake, perhaps mid-message).
        }
        finally
        {
            context.RequestServices.GetService<Mcp.TopicSubscriptions>()?.EndSession(server);
        }
    }
}
