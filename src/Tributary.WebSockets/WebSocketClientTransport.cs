using System.Net.WebSockets;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Tributary.WebSockets;

/// <summary>The client end: connects a <see cref="ClientWebSocket"/> (subprotocol <c>mcp</c>, with the given headers) and hands the SDK client a <see cref="WebSocketTransport"/>.</summary>
public sealed class WebSocketClientTransport(Uri endpoint, IReadOnlyDictionary<string, string>? headers = null, Action<ClientWebSocketOptions>? configure = null, ILoggerFactory? loggerFactory = null) : IClientTransport
{
    /// <inheritdoc />
    public string Name => $"WebSocket {endpoint}";

    /// <inheritdoc />
    public async Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(WebSocketTransport.SubProtocol);
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(30);
        socket.Options.CollectHttpResponseDetails = true;
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            socket.Options.SetRequestHeader(name, value);
        }

        configure?.Invoke(socket.Options);
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken);
        }
        catch (WebSocketException e)
        {
            var status = socket.HttpStatusCode;
            socket.Dispose();
            throw new HttpRequestException($"the WebSocket handshake with {endpoint} failed{(status == 0 ? "" : $" with HTTP {(int)status}")}: {e.Message}", e, status == 0 ? null : status);
        }

        return new WebSocketTransport(socket, Name, loggerFactory: loggerFactory);
    }
}
