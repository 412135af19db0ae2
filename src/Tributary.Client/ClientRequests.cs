using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Tributary.Client;

/// <summary>
/// Every request a <see cref="TributaryClient"/> sends goes through here. It gets an id of the client's own, so that a
/// request the client gives up on (a timeout, a cancelled caller) is ended on the server with <c>notifications/cancelled</c>
/// (the SDK does not send it). Each request is logged (method and outcome at Debug; its parameters and result at Trace,
/// secrets redacted) and measured on the <c>Tributary.Client</c> meter.
/// </summary>
internal sealed partial class ClientRequests(ILogger logger, ClientMetrics metrics)
{
    private static long lastId;

    /// <summary>Sends <paramref name="method"/> and returns its result; <paramref name="target"/> (a tool or resource) names it in logs and metrics.</summary>
    public async Task<TResult> SendAsync<TParameters, TResult>(McpClient client, string method, string? target, TParameters parameters, CancellationToken cancellationToken)
        where TResult : notnull
    {
        var id = new RequestId($"tributary-{Interlocked.Increment(ref lastId)}");
        var started = Stopwatch.GetTimestamp();
        if (logger.IsEnabled(LogLevel.Trace))
        {
            var text = Redacted(JsonSerializer.SerializeToNode(parameters, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(TParameters))));
            LogRequest(logger, method, target, id, text);
        }

        var outcome = "error";
        try
        {
            var result = await client.SendRequestAsync<TParameters, TResult>(method, parameters, McpJsonUtilities.DefaultOptions, id, cancellationToken);
            outcome = result is CallToolResult { IsError: true } ? "tool_error" : "ok";
            if (logger.IsEnabled(LogLevel.Trace))
            {
                var text = Redacted(JsonSerializer.SerializeToNode(result, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(TResult))));
                LogResponse(logger, method, target, id, text);
            }

            return result;
        }
        catch (OperationCanceledException)
        {
            outcome = "cancelled";
            await CancelOnServerAsync(client, id, cancellationToken.IsCancellationRequested ? "the caller gave up (timeout or cancellation)" : "cancelled");
            throw;
        }
        catch (Exception e)
        {
            LogFailed(logger, method, target, id, e.GetType().Name, e.Message);
            throw;
        }
        finally
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            metrics.Record(method, target, outcome, elapsed);
            LogDone(logger, method, target, id, outcome, elapsed.TotalMilliseconds);
        }
    }

    /// <summary>Tells the server to stop working on request <paramref name="id"/>; a connection that is gone already ends it anyway.</summary>
    private static async Task CancelOnServerAsync(McpClient client, RequestId id, string reason)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await client.SendNotificationAsync(NotificationMethods.CancelledNotification, new CancelledNotificationParams { RequestId = id, Reason = reason }, cancellationToken: timeout.Token);
        }
        catch (Exception e) when (e is McpException or OperationCanceledException or IOException or HttpRequestException or ObjectDisposedException or InvalidOperationException)
        {
            // The connection is gone, and the request with it.
        }
    }

    /// <summary>The JSON with the values of secret-looking properties, API keys and JWTs replaced, cut to 4 KiB.</summary>
    internal static string Redacted(JsonNode? node)
    {
        var text = Redact(node)?.ToJsonString() ?? "null";
        return text.Length <= 4096 ? text : string.Concat(text.AsSpan(0, 4096), $"... ({text.Length} chars)");
    }

    private static JsonNode? Redact(JsonNode? node) => node switch
    {
        JsonObject obj => new JsonObject(obj.Select(p => KeyValuePair.Create(p.Key, SecretName().IsMatch(p.Key) && p.Value is not null ? JsonValue.Create("[redacted]") : Redact(p.Value)))),
        JsonArray array => new JsonArray([.. array.Select(Redact)]),
        JsonValue value when value.TryGetValue<string>(out var text) => JsonValue.Create(SecretValue().Replace(text, "[redacted]")),
        _ => node?.DeepClone(),
    };

    [GeneratedRegex("password|passwd|secret|token|api[_-]?key|authorization|credential|private[_-]?key", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SecretName();

    /// <summary>A Tributary API key or a JWT anywhere in a string.</summary>
    [GeneratedRegex(@"trib_[A-Za-z0-9_\-]{8,}|eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*", RegexOptions.CultureInvariant)]
    private static partial Regex SecretValue();

    [LoggerMessage(Level = LogLevel.Trace, Message = "→ {Method} {Target} [{Id}] {Parameters}")]
    private static partial void LogRequest(ILogger logger, string method, string? target, RequestId id, string parameters);

    [LoggerMessage(Level = LogLevel.Trace, Message = "← {Method} {Target} [{Id}] {Result}")]
    private static partial void LogResponse(ILogger logger, string method, string? target, RequestId id, string result);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Method} {Target} [{Id}]: {Outcome} in {Milliseconds:F1} ms")]
    private static partial void LogDone(ILogger logger, string method, string? target, RequestId id, string outcome, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Target} [{Id}] failed: {Error}: {Message}")]
    private static partial void LogFailed(ILogger logger, string method, string? target, RequestId id, string error, string message);
}

/// <summary>
/// The client's instruments on the <c>Tributary.Client</c> meter: <c>tributary.client.request.duration</c> (seconds, by
/// method, target and outcome: ok, tool_error, error or cancelled), <c>tributary.client.requests</c>,
/// <c>tributary.client.errors</c> (errors and tool errors; a cancelled request is not one) and <c>tributary.client.reconnects</c>.
/// </summary>
internal sealed class ClientMetrics : IDisposable
{
    /// <summary>The meter's name, for <c>AddMeter</c> in OpenTelemetry or a <see cref="MeterListener"/>.</summary>
    public const string MeterName = "Tributary.Client";

    private readonly Meter _meter;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _errors;
    private readonly Counter<long> _reconnects;

    public ClientMetrics(IMeterFactory? factory)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _duration = _meter.CreateHistogram<double>("tributary.client.request.duration", "s", "How long requests to the server took");
        _requests = _meter.CreateCounter<long>("tributary.client.requests", "{request}", "Requests sent to the server");
        _errors = _meter.CreateCounter<long>("tributary.client.errors", "{request}", "Requests that failed, tool errors included");
        _reconnects = _meter.CreateCounter<long>("tributary.client.reconnects", "{reconnect}", "New connections made after a lost one");
    }

    public void Record(string method, string? target, string outcome, TimeSpan elapsed)
    {
        var tags = new TagList { { "mcp.method", method }, { "mcp.target", target ?? "" }, { "outcome", outcome } };
        _duration.Record(elapsed.TotalSeconds, tags);
        _requests.Add(1, tags);
        if (outcome is "error" or "tool_error")
        {
            _errors.Add(1, tags);
        }
    }

    public void Reconnected() => _reconnects.Add(1);

    public void Dispose() => _meter.Dispose();
}

/// <summary>Hands the SDK loggers without Trace: at Trace it writes whole messages, secrets included; ours are redacted.</summary>
internal sealed class WithoutTraceLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => new WithoutTrace(inner.CreateLogger(categoryName));

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose()
    {
        // The caller owns the inner factory.
    }

    private sealed class WithoutTrace(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel > LogLevel.Trace && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel > LogLevel.Trace)
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
