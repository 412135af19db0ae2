using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Tributary.Core.Configuration;
using Tributary.Server.Auth;
using Tributary.Server.Http;

namespace Tributary.Server.Hosting;

/// <summary>Builds the two ways Tributary runs: an HTTP server and a stdio server.</summary>
public static class TributaryHosts
{
    /// <summary>An HTTP server on <paramref name="endpoint"/> (port 0 picks a free port).</summary>
    public static WebApplication CreateHttp(TributaryConfig config, HttpEndpoint endpoint, LogLevel logLevel = LogLevel.Information)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(endpoint);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = config.BaseDirectory });
        ConfigureLogging(builder.Logging, logLevel);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = config.Server.MaxRequestBytes;
            if (config.Server.Tls is { } tls)
            {
                var certificate = ClientCertificates.LoadServerCertificate(tls);
                kestrel.Listen(endpoint.Address, endpoint.Port, listen => listen.UseHttps(https => ClientCertificates.Configure(https, certificate, config.Auth.Mtls)));
            }
            else
            {
                kestrel.Listen(endpoint.Address, endpoint.Port);
            }
        });
        builder.Services.AddTributaryAuthentication(config);
        builder.Services.AddTributaryMcpServer(config).WithTributaryHttpTransport();
        var app = builder.Build();
        app.MapTributaryHttp(HttpSafetyOptions.From(config.Server));
        return app;
    }

    /// <summary>A stdio server: MCP messages on stdin and stdout, logs on stderr.</summary>
    public static IHost CreateStdio(TributaryConfig config, LogLevel logLevel = LogLevel.Information)
    {
        ArgumentNullException.ThrowIfNull(config);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = config.BaseDirectory });
        ConfigureLogging(builder.Logging, logLevel);
        builder.Services.AddTributaryMcpServer(config).WithStdioServerTransport();
        return builder.Build();
    }

    /// <summary>Structured (JSON) logs on stderr only: in stdio mode stdout carries nothing but MCP messages.</summary>
    public static void ConfigureLogging(ILoggingBuilder logging, LogLevel level)
    {
        ArgumentNullException.ThrowIfNull(logging);
        logging.ClearProviders();
        logging.SetMinimumLevel(level);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("ModelContextProtocol", LogLevel.Warning);
        logging.AddJsonConsole(o => o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ");
        logging.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    }
}
