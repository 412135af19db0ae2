using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;
using Tributary.Bench.HelloServer;

// The floor for Tributary's benchmark: the smallest MCP SDK server, one 'hello' tool, over stdio or Streamable HTTP.
// It is hosted like Tributary (empty host builder for stdio, slim web builder for HTTP, warnings-only logs on stderr,
// hybrid session mode) so that the difference between the two is Tributary's own work.
// --shapes adds fixed results shaped like Tributary's (see ShapedTools): for the bottleneck analysis only.
// --no-scope turns off the SDK's per-request DI scope (McpServerOptions.ScopeRequests): for measuring what it costs.
var shapes = args.Contains("--shapes");
var scopeRequests = !args.Contains("--no-scope");
args = [.. args.Where(a => a is not ("--shapes" or "--no-scope"))];
switch (args)
{
    case ["--stdio"]:
        {
            var builder = Host.CreateEmptyApplicationBuilder(settings: null);
            ConfigureLogging(builder.Logging);
            AddServer(builder.Services, shapes, scopeRequests).WithStdioServerTransport();
            await builder.Build().RunAsync();
            return 0;
        }

    case ["--http", var address]:
        {
            if (!TryParseLoopback(address, out var ip, out var port))
            {
                await Console.Error.WriteLineAsync($"--http: expected a loopback ADDR:PORT such as 127.0.0.1:0, got '{address}'");
                return 2;
            }

            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
            ConfigureLogging(builder.Logging);
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                kestrel.Listen(ip, port);
            });
            AddServer(builder.Services, shapes, scopeRequests).WithHttpTransport(o => o.SessionMode = HttpServerSessionMode.StatefulForInitializeClients);
            await using var app = builder.Build();
            app.MapMcp("/mcp");
            await app.StartAsync();
            var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            Console.WriteLine($"listening on {bound.TrimEnd('/')}/mcp");
            await app.WaitForShutdownAsync();
            return 0;
        }

    default:
        await Console.Error.WriteLineAsync("usage: hello-server (--stdio | --http 127.0.0.1:PORT) [--shapes] [--no-scope]");
        return 2;
}

static IMcpServerBuilder AddServer(IServiceCollection services, bool shapes, bool scopeRequests)
{
    var builder = services
        .AddMcpServer(o =>
        {
            o.ServerInfo = new Implementation { Name = "hello-server", Version = "1.0.0" };
            o.ScopeRequests = scopeRequests;
        })
        .WithTools<HelloTool>();
    return shapes ? builder.WithTools<ShapedTools>() : builder;
}

static void ConfigureLogging(ILoggingBuilder logging)
{
    logging.ClearProviders();
    logging.SetMinimumLevel(LogLevel.Warning);
    logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
}

static bool TryParseLoopback(string address, out IPAddress ip, out int port)
{
    ip = IPAddress.Loopback;
    port = 0;
    var colon = address.LastIndexOf(':');
    return colon > 0
        && IPAddress.TryParse(address[..colon], out ip!)
        && IPAddress.IsLoopback(ip)
        && int.TryParse(address[(colon + 1)..], out port)
        && port is >= 0 and <= 65535;
}
