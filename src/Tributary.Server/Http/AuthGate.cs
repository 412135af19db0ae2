using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Tributary.Core.Configuration;
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
    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var path = context.Request.Path;
        if (path == "/healthz" || path == ReadinessEndpoint.Path || path.StartsWithSegments(TributaryAuthentication.MetadataPath) || path.StartsWithSegments("/hooks"))
        {
            await next(context);
            return;
        }

        var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        var (principal, problem) = await authenticator.AuthenticateAsync(context);
        if (principal is null)
        {
            if (limits.TakeAddress(address) is { } wait)
            {
                await TooManyAsync(context, wait);
                return;
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
            return;
        }

        context.User = principal;
        var name = principal.Identity?.Name ?? "unknown";
        if (limits.TakePrincipal(name) is { } delay)
        {
            await TooManyAsync(context, delay);
            return;
        }

        if (HttpMethods.IsPost(context.Request.Method) && await NeededScopeAsync(context) is ({ } needed, var id))
        {
            LogDenied(logger, name, needed);
            Audit("auth.denied", name, needed);
            context.Response.Headers.WWWAuthenticate = Challenge($"error=\"insufficient_scope\", scope=\"{needed}\"");
            await HttpSafetyMiddleware.RejectAsync(context, StatusCodes.Status403Forbidden, new AccessDeniedException(needed).Message, id);
            return;
        }

        await next(context);
    }

    /// <summary>
    /// The scope the JSON-RPC request in the body needs and the caller lacks; null when none. A 2026-07-28 request names
    /// its method in <c>Mcp-Method</c>, so only methods that can need a scope have their body read (into memory, then
    /// handed on to MCP unchanged).
    /// </summary>
    private async Task<(string? Scope, JsonElement? Id)> NeededScopeAsync(HttpContext context)
    {
        if (context.Request.Headers["Mcp-Method"].ToString() is { Length: > 0 } method && !AccessPolicy.MayNeedScope(method))
        {
            return default;
        }

        byte[] bytes;
        if (context.Request.ContentLength is { } length and <= int.MaxValue)
        {
            bytes = new byte[length];
            await context.Request.Body.ReadExactlyAsync(bytes, context.RequestAborted);
        }
        else
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            bytes = buffer.ToArray();
        }

        context.Request.Body = new MemoryStream(bytes, writable: false);
        try
        {
            using var body = JsonDocument.Parse(bytes);
            var messages = body.RootElement.ValueKind == JsonValueKind.Array ? body.RootElement.EnumerateArray().ToArray() : [body.RootElement];
            var grants = access.For(context.User);
            return messages
                .Where(m => m.ValueKind == JsonValueKind.Object && m.TryGetProperty("method", out var name) && name.ValueKind == JsonValueKind.String)
                .Select(m => (Scope: access.ScopeFor(m.GetProperty("method").GetString()!, m.TryGetProperty("params", out var p) ? p : default), Id: m.TryGetProperty("id", out var id) ? id.Clone() : (JsonElement?)null))
                .FirstOrDefault(m => m.Scope is not null && !grants.Allows(m.Scope));
        }
        catch (JsonException)
        {
            // Not JSON: MCP answers it with a parse error.
            return default;
        }
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
