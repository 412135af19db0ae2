using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Tributary.Server.Http;

/// <summary>
/// Guards every HTTP request before MCP sees it: <c>Host</c> and <c>Origin</c> must be on the allowlist (DNS rebinding
/// protection, which the MCP SDK does not do), and a body over the limit is refused with 413 before it is read.
/// </summary>
public sealed partial class HttpSafetyMiddleware(RequestDelegate next, HttpSafetyOptions options, ILogger<HttpSafetyMiddleware> logger)
{
    /// <summary>Checks the request and passes it on, or answers 403 or 413.</summary>
    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        var port = context.Connection.LocalPort;
        if (!IsAllowedHost(request.Host.Host, request.Host.Port, port))
        {
            LogRejected(logger, "Host", request.Host.Value ?? "");
            await RejectAsync(context, StatusCodes.Status403Forbidden, $"Forbidden: Host '{request.Host.Value}' is not allowed (allowed: {string.Join(", ", options.AllowedHosts)} on port {port}; add it to server.allowed_hosts)");
            return;
        }

        if (request.Headers.Origin is { Count: > 0 } origins && !IsAllowedOrigin(origins.ToString(), port))
        {
            LogRejected(logger, "Origin", origins.ToString());
            await RejectAsync(context, StatusCodes.Status403Forbidden, $"Forbidden: Origin '{origins}' is not allowed (add it to server.allowed_origins)");
            return;
        }

        if (request.ContentLength > options.MaxRequestBytes)
        {
            await RejectAsync(context, StatusCodes.Status413PayloadTooLarge, $"Request body of {request.ContentLength} bytes is over the limit of {options.MaxRequestBytes} bytes (server.max_request_bytes)");
            return;
        }

        try
        {
            await next(context);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge && !context.Response.HasStarted)
        {
            // A body without Content-Length that grows over the limit: Kestrel stops reading it.
            await RejectAsync(context, StatusCodes.Status413PayloadTooLarge, $"Request body is over the limit of {options.MaxRequestBytes} bytes (server.max_request_bytes)");
        }
    }

    /// <summary>Writes a JSON-RPC error body with the given HTTP status (for the request <paramref name="id"/> when known).</summary>
    public static async Task RejectAsync(HttpContext context, int status, string message, JsonElement? id = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(context.Response.Body);
        json.WriteStartObject();
        json.WriteString("jsonrpc"u8, "2.0");
        if (id is { ValueKind: JsonValueKind.String or JsonValueKind.Number } known)
        {
            json.WritePropertyName("id"u8);
            known.WriteTo(json);
        }
        else
        {
            json.WriteNull("id"u8);
        }

        json.WriteStartObject("error"u8);
        json.WriteNumber("code"u8, -32000);
        json.WriteString("message"u8, message);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private bool IsAllowedHost(string host, int? port, int localPort) =>
        options.AllowedHosts.Contains(host) && (port is null || port == localPort);

    private bool IsAllowedOrigin(string origin, int localPort)
    {
        if (options.AllowedOrigins.Contains(origin.TrimEnd('/')))
        {
            return true;
        }

        return Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && uri.Scheme is "http" or "https"
            && uri.AbsolutePath == "/"
            && uri.Port == localPort
            && options.AllowedHosts.Contains(uri.IsLoopback && uri.HostNameType == UriHostNameType.IPv6 ? "[::1]" : uri.Host);
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Rejected a request: {Header} '{Value}' is not allowed")]
    private static partial void LogRejected(ILogger logger, string header, string value);
}
