using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.AspNetCore;

namespace Tributary.Server.Http;

/// <summary>Tributary's HTTP transport: Streamable HTTP at <c>/mcp</c> in hybrid session mode, legacy HTTP+SSE at <c>/sse</c>; JSON answers compressed (Brotli or gzip) when the client accepts it.</summary>
public static class TributaryHttpExtensions
{
    /// <summary>The Streamable HTTP endpoint.</summary>
    public const string McpPath = "/mcp";

    /// <summary>The legacy HTTP+SSE endpoint (its messages go to <c>/mcp/message</c>).</summary>
    public const string SsePath = "/sse";

    /// <summary>
    /// Serves 2026-07-28 clients statelessly and gives <c>initialize</c> clients a session, on one endpoint,
    /// and keeps the legacy HTTP+SSE transport for older clients.
    /// </summary>
    public static IMcpServerBuilder WithTributaryHttpTransport(this IMcpServerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddResponseCompression(options =>
        {
            // JSON answers, and the event streams that carry MCP answers (flushed event by event, see EventStreamCompression).
            options.EnableForHttps = true;
            options.MimeTypes = ["application/json", "text/plain", "text/event-stream"];
            options.Providers.Add<BrotliCompressionProvider>();
            options.Providers.Add<GzipCompressionProvider>();
        });
        builder.Services.Configure<BrotliCompressionProviderOptions>(o => o.Level = System.IO.Compression.CompressionLevel.Optimal);
        builder.Services.Configure<GzipCompressionProviderOptions>(o => o.Level = System.IO.Compression.CompressionLevel.Optimal);
        return builder.WithHttpTransport(options =>
        {
            options.SessionMode = HttpServerSessionMode.StatefulForInitializeClients;
#pragma warning disable MCP9004 // The legacy SSE transport is deprecated by the spec, and still used by older clients.
            options.EnableLegacySse = true;
#pragma warning restore MCP9004
#pragma warning disable MCPEXP002 // The one hook that tells when a session ends; subscriptions need it.
            options.RunSessionHandler = RunSessionAsync;
#pragma warning restore MCPEXP002
        });
    }

    /// <summary>Runs a session; when it ends (the client left, or it timed out) its topic subscriptions end with it.</summary>
    private static async Task RunSessionAsync(HttpContext context, ModelContextProtocol.Server.McpServer session, CancellationToken cancellationToken)
    {
        var subscriptions = context.RequestServices.GetService<Mcp.TopicSubscriptions>();
        try
        {
            await session.RunAsync(cancellationToken);
        }
        finally
        {
            subscriptions?.EndSession(session);
        }
    }

    /// <summary>Adds the safety checks, the health endpoint and the MCP endpoints to <paramref name="app"/>.</summary>
    public static WebApplication MapTributaryHttp(this WebApplication app, HttpSafetyOptions safety)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseMiddleware<HttpSafetyMiddleware>(safety);
        app.UseResponseCompression();
        app.UseMiddleware<EventStreamCompression>();
        if (app.Services.GetService<Core.Configuration.TributaryConfig>()?.Auth is { Enabled: true } auth)
        {
            if (auth.OAuth is not null)
            {
                // Serves the protected resource metadata (no default scheme: it authenticates nothing itself). Only on its
                // paths: elsewhere it would make a handler per request for nothing (the gate asks JwtBearer by name).
                app.UseWhen(
                    context => context.Request.Path.StartsWithSegments(Auth.TributaryAuthentication.MetadataPath),
                    metadata => metadata.UseAuthentication());
            }

            app.UseMiddleware<AuthGate>();
        }

        app.Use((context, next) =>
        {
            // The SDK maps legacy SSE under the MCP path; serve it at /sse as well, before routing picks an endpoint.
            if (context.Request.Path.Equals(SsePath, StringComparison.Ordinal))
            {
                context.Request.Path = McpPath + SsePath;
            }

            return next(context);
        });
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
        app.UseRouting();
        app.MapGet("/healthz", (RequestDelegate)(context => context.Response.WriteAsync("ok")));
        if (app.Services.GetService<Core.Configuration.TributaryConfig>() is { Server.Metrics: true })
        {
            app.MapPrometheusScrapingEndpoint(Observability.TributaryTelemetry.MetricsPath);
        }

        if (app.Services.GetService<Core.Sources.SourceRegistry>() is not null)
        {
            var readiness = ActivatorUtilities.CreateInstance<ReadinessEndpoint>(app.Services);
            app.MapGet(ReadinessEndpoint.Path, (RequestDelegate)readiness.HandleAsync);
        }
        if (app.Services.GetService<Topics.IEventStore>() is not null)
        {
            var webhooks = ActivatorUtilities.CreateInstance<WebhookEndpoint>(app.Services, TimeProvider.System);
            app.MapPost("/hooks/{topic}", (RequestDelegate)(context => webhooks.HandleAsync(context, (string)context.GetRouteValue("topic")!)));
        }

        if (app.Services.GetService<Core.Configuration.TributaryConfig>() is not null)
        {
            var webSockets = ActivatorUtilities.CreateInstance<WebSocketEndpoint>(app.Services);
            app.Map(WebSocketEndpoint.Path, (RequestDelegate)webSockets.HandleAsync);
        }

        app.MapMcp(McpPath);
        return app;
    }
}
