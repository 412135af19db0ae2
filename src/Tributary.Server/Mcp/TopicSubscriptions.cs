using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tributary.Topics;

namespace Tributary.Server.Mcp;

/// <summary>
/// Pushes "this topic has new events" to MCP clients of both eras: <c>resources/subscribe</c> on an initialize session
/// gives <c>notifications/resources/updated</c>; a 2026-07-28 <c>subscriptions/listen</c> gets the acknowledgement, then
/// the same notifications tagged with its subscription id over the held-open response. Each subscription waits on the bus
/// for its topic on its own, so a slow client delays nobody else. The first event after a quiet spell is notified at
/// once, and a burst becomes at most one more notification per <see cref="Coalesce"/>; the reader then reads every event
/// since its cursor (the log keeps them all).
/// </summary>
internal sealed partial class TopicSubscriptions(TopicRegistry topics, IEventStore store, IEventBus bus, Auth.AccessPolicy access, Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime, Observability.TributaryMetrics metrics, ILogger<TopicSubscriptions> logger)
{
    /// <summary>Most resources one subscription request (or one session) may follow.</summary>
    public const int MaxPerRequest = 100;

    /// <summary>Most subscriptions this node holds at once.</summary>
    public const int MaxActive = 10_000;

    /// <summary>How long a burst is gathered into one notification.</summary>
    public static readonly TimeSpan Coalesce = TimeSpan.FromMilliseconds(20);

    private readonly ConcurrentDictionary<(string Session, string Uri), CancellationTokenSource> _sessionSubscriptions = new();
    private int _active;

    /// <summary>Subscriptions running now (each one waiting on its topic).</summary>
    public int Active => Volatile.Read(ref _active);

    /// <summary><c>resources/subscribe</c> on an initialize session.</summary>
    public async ValueTask<EmptyResult> SubscribeAsync(RequestContext<SubscribeRequestParams> request, CancellationToken cancellationToken)
    {
        var uri = request.Params?.Uri ?? throw new McpProtocolException("'uri' is required", McpErrorCode.InvalidParams);
        var query = Query(uri, request.User);
        var server = request.Server;
        var session = SessionKey(server);
        if (_sessionSubscriptions.Keys.Count(k => k.Session == session) >= MaxPerRequest)
        {
            throw new McpProtocolException($"this session already follows {MaxPerRequest} resources: unsubscribe from some first", McpErrorCode.InvalidRequest);
        }

        Reserve();
        var stop = new CancellationTokenSource();
        if (!_sessionSubscriptions.TryAdd((session, uri), stop))
        {
            Release();
            stop.Dispose();
            return new EmptyResult();
        }

        var cursor = await store.LastSequenceAsync(cancellationToken);
        _ = Task.Run(async () =>
        {
            try
            {
                await PumpAsync(query, cursor, ct => server.SendNotificationAsync(NotificationMethods.ResourceUpdatedNotification, new ResourceUpdatedNotificationParams { Uri = uri }, cancellationToken: ct), stop.Token);
            }
            finally
            {
                _sessionSubscriptions.TryRemove((session, uri), out _);
                stop.Dispose();
            }
        }, CancellationToken.None);
        return new EmptyResult();
    }

    /// <summary><c>resources/unsubscribe</c> on an initialize session.</summary>
    public ValueTask<EmptyResult> UnsubscribeAsync(RequestContext<UnsubscribeRequestParams> request, CancellationToken cancellationToken)
    {
        if (request.Params?.Uri is { } uri && _sessionSubscriptions.TryGetValue((SessionKey(request.Server), uri), out var stop))
        {
            stop.Cancel();
        }

        return ValueTask.FromResult(new EmptyResult());
    }

    /// <summary>
    /// <c>subscriptions/listen</c> (2026-07-28): acknowledges the topic resources it can follow, then streams their
    /// updates until the client closes the request.
    /// </summary>
    public async ValueTask<EmptyResult> ListenAsync(RequestContext<SubscriptionsListenRequestParams> request, CancellationToken cancellationToken)
    {
        var requested = request.Params?.Notifications?.ResourceSubscriptions ?? [];
        if (requested.Count > MaxPerRequest)
        {
            throw new McpProtocolException($"at most {MaxPerRequest} resources per subscriptions/listen (asked for {requested.Count})", McpErrorCode.InvalidParams);
        }

        var granted = requested.Distinct(StringComparer.Ordinal).Select(uri => (Uri: uri, Query: Query(uri, request.User))).ToList();
        var subscriptionId = request.JsonRpcRequest.Id;
        var server = request.Server;
        // The cursor is taken before the acknowledgement: an event published once the client has it is always notified.
        var cursor = await store.LastSequenceAsync(cancellationToken);
        var acknowledged = new JsonObject { ["notifications"] = new JsonObject { ["resourceSubscriptions"] = new JsonArray(granted.Select(g => (JsonNode?)JsonValue.Create(g.Uri)).ToArray()) } };
        await server.SendMessageAsync(Tagged(NotificationMethods.SubscriptionsAcknowledgedNotification, acknowledged, subscriptionId), cancellationToken);
        if (granted.Count == 0)
        {
            return new EmptyResult();
        }

        // Stopping the server ends the listen (its response completes) rather than holding the shutdown.
        using var listening = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
        cancellationToken = listening.Token;
        var pumps = new List<Task>();
        try
        {
            foreach (var (uri, query) in granted)
            {
                Reserve();
                pumps.Add(PumpAsync(query, cursor, ct => server.SendMessageAsync(Tagged(NotificationMethods.ResourceUpdatedNotification, new JsonObject { ["uri"] = uri }, subscriptionId), ct), cancellationToken));
            }
        }
        catch (McpProtocolException)
        {
            // Over the node's limit part-way: what started stops with the request.
            await Task.WhenAll(pumps);
            throw;
        }

        await Task.WhenAll(pumps);
        return new EmptyResult();
    }

    /// <summary>Ends every subscription of an initialize session that has ended (its client left or timed out).</summary>
    public void EndSession(McpServer session)
    {
        if (session.SessionId is not { } key)
        {
            // A stateless exchange: it holds no session subscriptions.
            return;
        }

        foreach (var ((owner, _), stop) in _sessionSubscriptions)
        {
            if (owner == key)
            {
                stop.Cancel();
            }
        }
    }

    private async Task PumpAsync(TopicQuery query, long cursor, Func<CancellationToken, Task> notify, CancellationToken cancellationToken)
    {
        // Leading-edge throttle: the first event after a quiet spell is notified at once; events within Coalesce of the
        // last notification are gathered into one more, sent when the interval is over. A filtered subscription is told
        // only of events its filter keeps.
        var topic = query.Topic.Name;
        var filtered = !ReferenceEquals(query.Filter, EventFilter.All);
        var lastNotified = long.MinValue / 2;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (await bus.WaitAsync(topic, cursor, Timeout.InfiniteTimeSpan, cancellationToken) is not { } newest)
                {
                    continue;
                }

                var wait = Coalesce - System.Diagnostics.Stopwatch.GetElapsedTime(lastNotified);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken);
                    newest = await bus.WaitAsync(topic, newest - 1, TimeSpan.Zero, cancellationToken) ?? newest;
                }

                var kept = !filtered || await KeepsAnyAsync(query, cursor, cancellationToken);
                cursor = newest;
                if (kept)
                {
                    lastNotified = System.Diagnostics.Stopwatch.GetTimestamp();
                    await notify(cancellationToken);
                    metrics.Notified(topic);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Unsubscribed, or the client closed the stream.
        }
        catch (Exception e) when (e is ObjectDisposedException or IOException or InvalidOperationException)
        {
            LogEnded(logger, topic, e);
        }
        finally
        {
            Release();
        }
    }

    /// <summary>True when the topic has an event after <paramref name="cursor"/> that the query's filter keeps (a filter that fails on an event counts as keeping it: the read reports why).</summary>
    private async Task<bool> KeepsAnyAsync(TopicQuery query, long cursor, CancellationToken cancellationToken)
    {
        try
        {
            return (await store.ReadAsync(query.Topic.Name, cursor, 1, query.Filter, cancellationToken)).Count > 0;
        }
        catch (Core.ToolException)
        {
            return true;
        }
    }

    private TopicQuery Query(string uri, System.Security.Claims.ClaimsPrincipal? user)
    {
        if (!uri.StartsWith(TopicQuery.Prefix, StringComparison.Ordinal))
        {
            throw new McpProtocolException($"'{uri}' cannot be subscribed to: subscriptions follow topics, {TopicQuery.Template}", McpErrorCode.ResourceNotFound);
        }

        try
        {
            access.Demand(user, Core.Security.Grants.Topic(topics.Get(TopicQuery.TopicName(uri)).Name, "read"));
        }
        catch (Auth.AccessDeniedException e)
        {
            throw new McpProtocolException(e.Message, McpErrorCode.InvalidRequest);
        }
        catch (Core.ToolException e)
        {
            throw new McpProtocolException(e.Message, McpErrorCode.ResourceNotFound);
        }

        try
        {
            return TopicQuery.Parse(uri, topics);
        }
        catch (Core.ToolException e)
        {
            throw new McpProtocolException(e.Message, McpErrorCode.InvalidParams);
        }
    }

    /// <summary>What ties requests to their session: the session id (a request's server object is a per-request view of it); stdio has one session.</summary>
    private static string SessionKey(McpServer server) => server.SessionId ?? "";

    private void Reserve()
    {
        if (Interlocked.Increment(ref _active) > MaxActive)
        {
            Interlocked.Decrement(ref _active);
            throw new McpProtocolException($"this server already holds {MaxActive} subscriptions: close some, or follow topics with read_events", McpErrorCode.InvalidRequest);
        }
    }

    private void Release() => Interlocked.Decrement(ref _active);

    private static JsonRpcNotification Tagged(string method, JsonObject parameters, RequestId subscriptionId)
    {
        parameters["_meta"] = new JsonObject
        {
            [MetaKeys.SubscriptionId] = subscriptionId.Id switch
            {
                string text => JsonValue.Create(text),
                long number => JsonValue.Create(number),
                var other => JsonValue.Create(other?.ToString()),
            },
        };
        return new JsonRpcNotification { Method = method, Params = parameters };
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "A subscription to topic {Topic} ended: the client is gone")]
    private static partial void LogEnded(ILogger logger, string topic, Exception reason);
}
