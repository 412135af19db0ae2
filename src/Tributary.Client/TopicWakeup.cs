using System.Text.Json.Nodes;
using System.Threading.Channels;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Tributary.Client;

/// <summary>
/// Tells a topic reader when the server says its resource has new events: through <c>subscriptions/listen</c> on a
/// 2026-07-28 connection, <c>resources/subscribe</c> on an older session. It only wakes the reader, which then reads from
/// its cursor, so a notification that is lost, coalesced or duplicated costs nothing but a read. It follows the client's
/// current connection: after a reconnect it subscribes again on the new one.
/// </summary>
internal sealed class TopicWakeup(string uri, ClientRequests requests) : IAsyncDisposable
{
    /// <summary>The first revision with <c>subscriptions/listen</c> (and without <c>resources/subscribe</c>).</summary>
    private const string ListenRevision = "2026-07-28";

    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private McpClient? _client;
    private readonly List<IAsyncDisposable> _handlers = [];
    private CancellationTokenSource? _listening;
    private Task? _listen;

    /// <summary>How this connection is told of new events.</summary>
    public TopicNotifications Mode { get; private set; } = TopicNotifications.None;

    /// <summary>
    /// Makes sure <paramref name="client"/> (the current connection) notifies this topic, subscribing again when the connection
    /// changed. Returns false when the server notifies nothing here, so the reader must wait on
    /// the server (<c>read_events</c> with <c>wait_ms</c>) instead.
    /// </summary>
    public async Task<bool> EnsureAsync(McpClient client, CancellationToken cancellationToken)
    {
        if (ReferenceEquals(client, _client))
        {
            if (_listen is { IsCompleted: true })
            {
                // The stream ended on a connection that still answers (a refusal, a proxy's cut): wait on the server instead,
                // until the next connection.
                Mode = TopicNotifications.None;
            }

            return Mode != TopicNotifications.None;
        }

        await StopAsync();
        _client = client;
        _handlers.Add(client.RegisterNotificationHandler(NotificationMethods.ResourceUpdatedNotification, (notification, _) =>
        {
            if ((notification.Params as JsonObject)?["uri"]?.GetValue<string>() == uri)
            {
                Wake();
            }

            return default;
        }));

        if (string.CompareOrdinal(client.NegotiatedProtocolVersion, ListenRevision) >= 0)
        {
            // The acknowledgement says the server now watches the topic: one read then catches what came before it.
            _handlers.Add(client.RegisterNotificationHandler(NotificationMethods.SubscriptionsAcknowledgedNotification, (_, _) => { Wake(); return default; }));
            _listening = new CancellationTokenSource();
            _listen = ListenAsync(client, _listening.Token);
            Mode = TopicNotifications.Listen;
        }
        else if (client.ServerCapabilities.Resources?.Subscribe == true)
        {
            try
            {
                await client.SubscribeToResourceAsync(new SubscribeRequestParams { Uri = uri }, cancellationToken);
                Mode = TopicNotifications.ResourceSubscribe;
            }
            catch (McpException)
            {
                Mode = TopicNotifications.None;
            }
        }
        else
        {
            Mode = TopicNotifications.None;
        }

        return Mode != TopicNotifications.None;
    }

    /// <summary>Waits until the server notifies the topic, the listen stream ends, or <paramref name="timeout"/> passes (a read then catches anything missed).</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(timeout);
        try
        {
            await _signal.Reader.ReadAsync(wait.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    private void Wake() => _signal.Writer.TryWrite(true);

    private async Task ListenAsync(McpClient client, CancellationToken cancellationToken)
    {
        try
        {
            var listen = new SubscriptionsListenRequestParams { Notifications = new SubscriptionsListenNotifications { ResourceSubscriptions = [uri] } };
            await requests.SendAsync<SubscriptionsListenRequestParams, EmptyResult>(client, RequestMethods.SubscriptionsListen, uri, listen, cancellationToken);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // The stream ended (a lost connection, a stopping server, a refusal): the reader reads, and subscribes again.
        }
        catch (OperationCanceledException)
        {
            // Stopped (the request's cancellation told the server).
            return;
        }

        Wake();
    }

    private async Task StopAsync()
    {
        if (_listening is not null)
        {
            await _listening.CancelAsync();
            await _listen!;
            _listening.Dispose();
            _listening = null;
            _listen = null;
        }

        if (Mode == TopicNotifications.ResourceSubscribe)
        {
            await UnsubscribeAsync(_client!);
        }

        foreach (var handler in _handlers)
        {
            await handler.DisposeAsync();
        }

        _handlers.Clear();
        _client = null;
        Mode = TopicNotifications.None;
    }

    /// <summary>Ends a <c>resources/subscribe</c>, if the connection still lets it.</summary>
    private async Task UnsubscribeAsync(McpClient client)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await client.UnsubscribeFromResourceAsync(new UnsubscribeRequestParams { Uri = uri }, timeout.Token);
        }
        catch (Exception e) when (e is McpException or OperationCanceledException or IOException or HttpRequestException or ObjectDisposedException or InvalidOperationException)
        {
            // The connection is gone, and the subscription with it.
        }
    }
}

/// <summary>How a <see cref="TributaryClient.SubscribeAsync"/> learns that its topic has new events.</summary>
internal enum TopicNotifications
{
    /// <summary>It is not notified: it waits on the server with <c>read_events</c> and <c>wait_ms</c>.</summary>
    None,

    /// <summary>A 2026-07-28 <c>subscriptions/listen</c> stream.</summary>
    Listen,

    /// <summary><c>resources/subscribe</c> on an older session.</summary>
    ResourceSubscribe,
}
