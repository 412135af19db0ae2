using System.Buffers;
using System.Net.WebSockets;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace Tributary.WebSockets;

/// <summary>
/// An MCP transport over an open WebSocket, for either end: each JSON-RPC message is one text message (possibly in
/// several frames). A message over <see cref="MaxMessageBytes"/> closes the socket with 1009 (message too big); one
/// that is not JSON-RPC is answered with a parse error and the socket stays open. This is a custom transport: the
/// WebSocket transport for MCP is still a draft.
/// </summary>
public sealed class WebSocketTransport : TransportBase
{
    /// <summary>The WebSocket subprotocol both ends ask for.</summary>
    public const string SubProtocol = "mcp";

    /// <summary>The largest message accepted by default: 4 MiB.</summary>
    public const int DefaultMaxMessageBytes = 4 * 1024 * 1024;

    private static readonly JsonTypeInfo<JsonRpcMessage> MessageType = (JsonTypeInfo<JsonRpcMessage>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage));

    private readonly WebSocket _socket;
    private readonly ClaimsPrincipal? _user;
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reading;

    /// <summary>Starts reading <paramref name="socket"/>; incoming requests carry <paramref name="user"/> (the server's authenticated caller).</summary>
    public WebSocketTransport(WebSocket socket, string name, ClaimsPrincipal? user = null, int maxMessageBytes = DefaultMaxMessageBytes, ILoggerFactory? loggerFactory = null)
        : base(name, loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(socket);
        _socket = socket;
        _user = user;
        MaxMessageBytes = maxMessageBytes;
        SessionId = Guid.NewGuid().ToString("N");
        SetConnected();
        _reading = Task.Run(ReadLoopAsync);
    }

    /// <summary>The largest message this end accepts.</summary>
    public int MaxMessageBytes { get; }

    /// <summary>Completes when the socket is closed, by either end.</summary>
    public Task Completion => _reading;

    /// <inheritdoc />
    public override async Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(message, MessageType);
        await _sending.WaitAsync(cancellationToken);
        try
        {
            await _socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
                // Gone already.
            }
        }

        await _reading;
        _socket.Dispose();
        _sending.Dispose();
        _stop.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        Exception? error = null;
        try
        {
            while (!_stop.IsCancellationRequested && _socket.State == WebSocketState.Open)
            {
                buffer.ResetWrittenCount();
                ValueWebSocketReceiveResult received;
                do
                {
                    received = await _socket.ReceiveAsync(buffer.GetMemory(16 * 1024), _stop.Token);
                    buffer.Advance(received.Count);
                    if (buffer.WrittenCount > MaxMessageBytes)
                    {
                        await _socket.CloseAsync(WebSocketCloseStatus.MessageTooBig, $"messages are limited to {MaxMessageBytes} bytes", _stop.Token);
                        return;
                    }
                }
                while (!received.EndOfMessage && received.MessageType != WebSocketMessageType.Close);

                if (received.MessageType == WebSocketMessageType.Close)
                {
                    if (_socket.State == WebSocketState.CloseReceived)
                    {
                        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", _stop.Token);
                    }

                    return;
                }

                JsonRpcMessage? message;
                try
                {
                    message = JsonSerializer.Deserialize(buffer.WrittenSpan, MessageType);
                }
                catch (JsonException e)
                {
                    await SendMessageAsync(new JsonRpcError { Id = default, Error = new JsonRpcErrorDetail { Code = (int)McpErrorCode.ParseError, Message = $"not a JSON-RPC message: {e.Message}" } }, _stop.Token);
                    continue;
                }

                if (message is null)
                {
                    continue;
                }

                if (_user is not null)
                {
                    message.Context = new JsonRpcMessageContext { User = _user };
                }

                await WriteMessageAsync(message, _stop.Token);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (WebSocketException e)
        {
            // The other end went away, possibly mid-message.
            error = e;
        }
        finally
        {
            SetDisconnected(error);
        }
    }
}
