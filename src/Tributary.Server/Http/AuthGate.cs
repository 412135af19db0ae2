using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Tributary.Core.Configuration;
using Tributary.Core.Security;
using Tributary.Server.Auth;
using Tributary.Server.State;

namespace Tributary.Server.Http;

/// <summary>
/// Where a request must show who it is, once authentication is configured. Open: <c>/healthz</c>, <c>/readyz</c>, the protected resource
/// metadata, and webhooks (they carry their own signature). Everything else: no valid credentials is 401 with a
/// <c>WWW-Authenticate</c> challenge (pointing OAuth clients to the resource metadata); a JSON-RPC request the caller's
/// scopes do not allow is 403 <c>insufficient_scope</c> naming the scope; too many requests is 429 with
/// <c>Retry-After</c> (per principal, and per address for requests without valid credentials, which are limited before
/// anything else is done for them). Failures and denials go to the audit log; credentials never do.
/// </summary>
public sealed partial class AuthGate(RequestDelegate next, Authenticator authenticator, AccessPolicy access, RateLimits limits, TributaryConfig config, StateStore audit, ILogger<AuthGate> logger)
{
    private readonly string? _metadata = config.Auth.OAuth is null ? null : config.Server.PublicUrl is { } url
        ? url.GetLeftPart(UriPartial.Authority) + TributaryAuthentication.MetadataPath + new Uri(TributaryAuthentication.ResourceUri(config)).AbsolutePath
        : null;

    /// <summary>Lets the request through, or answers 401, 403 or 429.</summary>
    /// <remarks>
    /// The checks finish without waiting on anything in the usual case (a key or a token seen before, a body already
    /// received), so the request goes on to MCP without an async frame of the gate around it.
    /// </remarks>
    public Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var path = context.Request.Path;
        if (path == "/healthz" || path == ReadinessEndpoint.Path || path.StartsWithSegments(TributaryAuthentication.MetadataPath) || path.StartsWithSegments("/hooks"))
        {
            return next(context);
        }

        var admitted = AdmitAsync(context);
        return admitted.IsCompletedSuccessfully
            ? admitted.Result ? next(context) : Task.CompletedTask
            : ContinueAsync(admitted, context);
    }

    private async Task ContinueAsync(ValueTask<bool> admitted, HttpContext context)
    {
        if (await admitted)
        {
            await next(context);
        }
    }

    /// <summary>True when the request may go on; otherwise the answer (401, 403 or 429) has been written.</summary>
    private async ValueTask<bool> AdmitAsync(HttpContext context)
    {
        var (principal, problem) = await authenticator.AuthenticateAsync(context);
        if (principal is null)
        {
            var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
            if (limits.TakeAddress(address) is { } wait)
            {
                await TooManyAsync(context, wait);
                return false;
            }

            if (problem is not null)
            {
                LogRefused(logger, address, problem);
                Audit("auth.failed", $"anonymous@{address}", problem);
            }

            // The scope the request will need, so that a client asks for it when it gets a token.
            var (scope, _) = HttpMethods.IsPost(context.Request.Method) ? await NeededScopeAsync(context) : default;
            context.Response.Headers.WWWAuthenticate = Challenge(string.Join(", ", new[]
            {
                problem is null ? null : $"error=\"invalid_token\", error_description=\"{Quoted(problem)}\"",
                scope is null ? null : $"scope=\"{scope}\"",
            }.Where(p => p is not null)) is { Length: > 0 } details ? details : null);
            await HttpSafetyMiddleware.RejectAsync(context, StatusCodes.Status401Unauthorized, problem is null
                ? "Unauthorized: send credentials (Authorization: Bearer <token or trib_ key>, X-API-Key, or a client certificate)"
                : $"Unauthorized: {problem}");
            return false;
        }

        context.User = principal;
        var name = principal.Identity?.Name ?? "unknown";
        if (limits.TakePrincipal(name) is { } delay)
        {
            await TooManyAsync(context, delay);
            return false;
        }

        if (HttpMethods.IsPost(context.Request.Method) && await NeededScopeAsync(context) is ({ } needed, var id))
        {
            LogDenied(logger, name, needed);
            Audit("auth.denied", name, needed);
            context.Response.Headers.WWWAuthenticate = Challenge($"error=\"insufficient_scope\", scope=\"{needed}\"");
            await HttpSafetyMiddleware.RejectAsync(context, StatusCodes.Status403Forbidden, new AccessDeniedException(needed).Message, id);
            return false;
        }

        return true;
    }

    /// <summary>
    /// The scope the JSON-RPC request in the body needs and the caller lacks (with the request's id); null when none. A
    /// 2026-07-28 request names its method in <c>Mcp-Method</c>, so only methods that can need a scope have their body
    /// read (into memory, then handed on to MCP unchanged).
    /// </summary>
    private async ValueTask<(string? Scope, JsonElement? Id)> NeededScopeAsync(HttpContext context)
    {
        if (context.Request.Headers["Mcp-Method"].ToString() is { Length: > 0 } method && !AccessPolicy.MayNeedScope(method))
        {
            return default;
        }

        var body = await BufferBodyAsync(context);
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var grants = access.For(context.User);
            if (root.ValueKind != JsonValueKind.Array)
            {
                return Denied(root, grants) is { } scope ? (scope, IdOf(root)) : default;
            }

            foreach (var message in root.EnumerateArray())
            {
                if (Denied(message, grants) is { } scope)
                {
                    return (scope, IdOf(message));
                }
            }

            return default;
        }
        catch (JsonException)
        {
            // Not JSON: MCP answers it with a parse error.
            return default;
        }
    }

    /// <summary>The scope <paramref name="message"/> (a JSON-RPC request) needs and <paramref name="grants"/> lack, or null.</summary>
    private string? Denied(JsonElement message, Grants grants) =>
        message.ValueKind == JsonValueKind.Object && message.TryGetProperty("method"u8, out var method) && method.ValueKind == JsonValueKind.String
        && access.ScopeFor(method.GetString()!, message.TryGetProperty("params"u8, out var parameters) ? parameters : default) is { } scope
        && !grants.Allows(scope)
            ? scope
            : null;

    /// <summary>The id of a refused request, copied out of the document it came in (only refusals need it).</summary>
    private static JsonElement? IdOf(JsonElement message) => message.TryGetProperty("id"u8, out var id) ? id.Clone() : null;

    /// <summary>
    /// Reads the whole body (Kestrel stops it at <c>server.max_request_bytes</c>) into one buffer, which then stands in
    /// for the body MCP reads. Each read is consumed at once: Kestrel's chunked bodies arrive through a pipe that waits
    /// for the reader to consume before it takes more, so a body cannot be peeked at in place.
    /// </summary>
    private static async ValueTask<ReadOnlyMemory<byte>> BufferBodyAsync(HttpContext context)
    {
        var request = context.Request;
        var reader = request.BodyReader;
        var copy = request.ContentLength is { } length and <= int.MaxValue ? new MemoryStream((int)length) : new MemoryStream();
        while (true)
        {
            var result = await reader.ReadAsync(context.RequestAborted);
            foreach (var segment in result.Buffer)
            {
                copy.Write(segment.Span);
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }

            context.RequestAborted.ThrowIfCancellationRequested();
        }

        copy.Position = 0;
        request.Body = copy;
        return copy.GetBuffer().AsMemory(0, (int)copy.Length);
    }

    private string Challenge(string? error) =>
        string.Join(", ", new[] { "Bearer realm=\"tributary\"", _metadata is null ? null : $"resource_metadata=\"{_metadata}\"", error }.Where(p => p is not null));

    private static async Task TooManyAsync(HttpContext context, TimeSpan wait)
    {
        context.Response.Headers.RetryAfter = ((int)Math.Ceiling(Math.Max(1, wait.TotalSeconds))).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await HttpSafetyMiddleware.RejectAsync(context, StatusCodes.Status429TooManyRequests, $"Too many requests: try again in {Math.Ceiling(Math.Max(1, wait.TotalSeconds)):0} s (auth.rate_limit)");
    }

    private void Audit(string what, string principal, string detail) =>
        audit.Append(new AuditEntry(DateTimeOffset.UtcNow, principal, what, detail, null, null, 0, null, null, null));

    private static string Quoted(string text) => text.Replace("\"", "'", StringComparison.Ordinal).Replace("\r", " ", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a request from {Address}: {Problem}")]
    private static partial void LogRefused(ILogger logger, string address, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Denied {Principal}: needs scope {Scope}")]
    private static partial void LogDenied(ILogger logger, string principal, string scope);
}
