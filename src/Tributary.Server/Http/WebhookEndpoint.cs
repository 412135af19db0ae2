using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Tributary.Core;
using Tributary.Core.Security;
using Tributary.Topics;

namespace Tributary.Server.Http;

/// <summary>
/// <c>POST /hooks/{topic}</c>: a signed webhook becomes an event of the topic. The signature is
/// <c>X-Tributary-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256 of "t.body" with the topic's webhook_secret&gt;</c>;
/// it must be within five minutes of now, is compared in constant time, and is accepted once (a replay gets 401).
/// The body (JSON) is the event's data; <c>X-Tributary-Event-Type</c> and <c>X-Tributary-Severity</c> name its type
/// (default <c>webhook</c>) and severity. Success is 202 with the event's sequence number.
/// </summary>
internal sealed class WebhookEndpoint(TopicRegistry topics, IEventStore store, TimeProvider time)
{
    /// <summary>The signature header.</summary>
    public const string SignatureHeader = RequestSignature.DefaultHeader;

    /// <summary>How far a signature's time may be from now.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);

    public async Task HandleAsync(HttpContext context, string topic)
    {
        ArgumentNullException.ThrowIfNull(context);
        var config = topics.All.FirstOrDefault(t => t.Name == topic);
        if (config?.WebhookSecret is not { } secret)
        {
            await WriteAsync(context, StatusCodes.Status404NotFound, $"no topic '{topic}' takes webhooks (a topic needs a webhook_secret)");
            return;
        }

        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        var body = buffer.ToArray();
        var now = time.GetUtcNow();
        if (Verify(context.Request.Headers[SignatureHeader].ToString(), body, secret, now) is { } problem)
        {
            await WriteAsync(context, StatusCodes.Status401Unauthorized, problem);
            return;
        }

        JsonElement data;
        try
        {
            data = JsonElement.Parse(body);
        }
        catch (JsonException)
        {
            await WriteAsync(context, StatusCodes.Status400BadRequest, "the body is not JSON: send the event's data as a JSON document");
            return;
        }

        try
        {
            var type = context.Request.Headers["X-Tributary-Event-Type"].ToString() is { Length: > 0 } given ? given : "webhook";
            var severity = context.Request.Headers["X-Tributary-Severity"].ToString() is { Length: > 0 } level ? level : null;
            var stored = await store.AppendAsync(NewEvent.Create(topic, type, data, severity, null, "webhook"), context.RequestAborted);
            context.Response.StatusCode = StatusCodes.Status202Accepted;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync($"{{\"topic\":\"{stored.Topic}\",\"sequence\":{stored.Sequence}}}", context.RequestAborted);
        }
        catch (ToolException e)
        {
            await WriteAsync(context, StatusCodes.Status400BadRequest, e.Message);
        }
    }

    /// <summary>Checks a signature header; null when it is good (and now spent), else why not.</summary>
    private string? Verify(string header, byte[] body, string secret, DateTimeOffset now)
    {
        if (header.Length == 0)
        {
            return $"missing {SignatureHeader}: sign the request (t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">)";
        }

        var parts = header.Split(',', StringSplitOptions.TrimEntries).Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        if (!parts.TryGetValue("t", out var stamp) || !long.TryParse(stamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || !parts.TryGetValue("v1", out var hex))
        {
            return $"{SignatureHeader} is malformed: write t=<unix seconds>,v1=<hex>";
        }

        if (Math.Abs((now - DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(seconds, 0, 253_402_300_799))).TotalSeconds) > Window.TotalSeconds)
        {
            return "the signature's time is more than 5 minutes from now: sign with the current time";
        }

        byte[] given;
        try
        {
            given = Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            return "the signature is not valid";
        }

        var expected = RequestSignature.Compute(Encoding.UTF8.GetBytes(secret), stamp, body);
        if (!CryptographicOperations.FixedTimeEquals(expected, given))
        {
            return "the signature is not valid";
        }

        // Replay guard: a signature is accepted once within its window.
        foreach (var (old, at) in _seen)
        {
            if (now - at > Window * 2)
            {
                _seen.TryRemove(old, out _);
            }
        }

        return _seen.TryAdd(hex.ToLowerInvariant(), now) ? null : "this signature was already used: sign each delivery anew";
    }

    private static Task WriteAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var text = JsonSerializer.Serialize(message, CoreJsonContext.Default.String);
        return context.Response.WriteAsync($"{{\"error\":{text}}}", context.RequestAborted);
    }
}
