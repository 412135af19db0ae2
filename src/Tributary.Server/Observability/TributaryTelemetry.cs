using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Tributary.Core.Configuration;

namespace Tributary.Server.Observability;

/// <summary>
/// OpenTelemetry for Tributary: metrics of Tributary (tools, topics, subscriptions, batch queries), of the MCP SDK
/// (<c>mcp.server.operation.duration</c>, the request latency histogram), of ASP.NET Core and Kestrel, and of the client
/// library when a process uses it; traces of MCP requests (a W3C <c>traceparent</c> in a request's <c>_meta</c>
/// continues the caller's trace), upstream HTTP calls and PostgreSQL commands. Prometheus at <c>/metrics</c> when
/// <c>server.metrics</c> is on; OTLP to <c>server.otlp_endpoint</c> when it is set.
/// </summary>
public static class TributaryTelemetry
{
    /// <summary>The SDK's activity source and meter.</summary>
    public const string McpSdk = "Experimental.ModelContextProtocol";

    /// <summary>The Prometheus scraping path.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>Adds the meter factory (always) and OpenTelemetry with the exporters <paramref name="config"/> asks for.</summary>
    public static IServiceCollection AddTributaryTelemetry(this IServiceCollection services, TributaryConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        services.AddMetrics();
        var otlp = config.Server.OtlpEndpoint;
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("tributary", serviceVersion: typeof(TributaryTelemetry).Assembly.GetName().Version?.ToString()))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(TributaryMetrics.MeterName, Topics.SqliteEventStore.MeterName, Sources.Http.HttpSourceMetrics.MeterName, Sources.Sql.SqlSourceMetrics.MeterName, McpSdk, "Tributary.Client", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel");
                if (config.Server.Metrics)
                {
                    metrics.AddPrometheusExporter();
                }

                if (otlp is not null)
                {
                    ExportMetrics(metrics, otlp);
                }
            })
            .WithTracing(tracing =>
            {
                tracing.SetSampler(new NotificationSampler()).AddSource(McpSdk, "System.Net.Http", "Npgsql");
                if (otlp is not null)
                {
                    ExportTraces(tracing, otlp);
                }
            });
        return services;
    }

    // The OTLP exporter is wired apart, so a server without server.otlp_endpoint never loads it.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void ExportMetrics(MeterProviderBuilder metrics, Uri otlp) => metrics.AddOtlpExporter(o => Otlp(o, otlp, "v1/metrics"));

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void ExportTraces(TracerProviderBuilder tracing, Uri otlp) => tracing.AddOtlpExporter(o => Otlp(o, otlp, "v1/traces"));

    private static void Otlp(OtlpExporterOptions options, Uri endpoint, string signal)
    {
        options.Protocol = OtlpExportProtocol.HttpProtobuf;
        options.Endpoint = new Uri(endpoint, endpoint.AbsolutePath.TrimEnd('/') + "/" + signal);
    }
}
