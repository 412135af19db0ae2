using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tributary.Core.Configuration;
using Tributary.Server.Hosting;
using Tributary.Server.Http;

namespace Tributary.Cli.Commands;

/// <summary><c>tributary serve</c>: runs the server over HTTP (default) or stdio, on a configuration or the demo data.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var config = CommonOptions.Config();
        var stdio = new Option<bool>("--stdio") { Description = "Serve MCP over stdin/stdout (for clients that start the server themselves)" };
        var http = new Option<string?>("--http") { Description = $"HTTP address as ADDR:PORT (default {ServerConfig.DefaultHttp}, or server.http)" };
        var dataDir = new Option<string?>("--data-dir") { Description = $"Data directory for the demo database (default ${CommonOptions.DataDirVariable}, else ./.tributary)" };
        var logLevel = new Option<LogLevel>("--log-level") { Description = "Minimum log level (logs go to stderr)", DefaultValueFactory = _ => LogLevel.Information };
        var command = new Command("serve", "Run the Tributary MCP server (demo data when no configuration is found)") { config, stdio, http, dataDir, logLevel };
        command.SetAction((parse, cancellationToken) => RunAsync(
            parse.GetValue(config), parse.GetValue(stdio), parse.GetValue(http), parse.GetValue(dataDir), parse.GetValue(logLevel), cancellationToken));
        return command;
    }

    /// <summary>
    /// Who a stdio session is (MCP over stdio takes its identity from the environment): with auth configured, the API key
    /// in TRIBUTARY_API_KEY when set (refused at start when it is not valid), else the local user, who may do everything.
    /// </summary>
    private static Tributary.Core.Security.Grants? StdioGrants(TributaryConfig config)
    {
        if (!config.Auth.Enabled || Environment.GetEnvironmentVariable(AuthConfig.StdioKeyVariable) is not { Length: > 0 } presented)
        {
            return Tributary.Core.Security.Grants.All;
        }

        if (!config.Auth.ApiKeys)
        {
            Console.Error.WriteLine($"{AuthConfig.StdioKeyVariable} is set, but auth.api_keys is not enabled: enable it, or unset the variable");
            return null;
        }

        using var keys = new Tributary.Server.Auth.ApiKeyStore(Tributary.Server.State.StateStore.PathIn(config));
        var check = keys.Verify(presented);
        if (check.Key is not { } key)
        {
            Console.Error.WriteLine($"{AuthConfig.StdioKeyVariable}: {check.Problem}");
            return null;
        }

        return new Tributary.Core.Security.Grants(key.Scopes);
    }

    private static async Task<int> RunAsync(string? configOption, bool stdio, string? httpOption, string? dataDir, LogLevel logLevel, CancellationToken cancellationToken)
    {
        var file = ConfigResolution.FindFile(configOption);
        TributaryConfig config;
        try
        {
            config = file is null ? ConfigResolution.Demo(dataDir, new ServerConfig()) : ConfigResolution.Load(file);
        }
        catch (ConfigException e)
        {
            ConfigResolution.PrintErrors(file ?? "(demo)", e);
            return 2;
        }

        if (stdio)
        {
            if (StdioGrants(config) is not { } grants)
            {
                return 2;
            }

            using var stdioHost = TributaryHosts.CreateStdio(config, logLevel);
            stdioHost.Services.GetRequiredService<Tributary.Server.Auth.AccessPolicy>().StdioGrants = grants;
            await stdioHost.RunAsync(cancellationToken);
            return 0;
        }

        var address = httpOption ?? config.Server.Http;
        if (!HttpEndpoint.TryParse(address, out var endpoint, out var problem))
        {
            Console.Error.WriteLine($"--http: {problem}");
            return 2;
        }

        if (!endpoint.IsLoopback && !config.Auth.Enabled)
        {
            Console.Error.WriteLine($"--http: {ConfigLoader.NonLoopbackRefusal(address)}");
            return 2;
        }

        await using var app = TributaryHosts.CreateHttp(config, endpoint, logLevel);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"cannot listen on {endpoint}: {e.Message} (is another server using the port? pick another with --http 127.0.0.1:PORT)");
            return 1;
        }

        PrintBanner(app, config, file);
        await app.WaitForShutdownAsync(cancellationToken);
        return 0;
    }

    private static void PrintBanner(WebApplication app, TributaryConfig config, string? file)
    {
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var url = address.TrimEnd('/') + TributaryHttpExtensions.McpPath;
        var self = Environment.ProcessPath ?? "tributary";
        var stdioCommand = Path.GetFileNameWithoutExtension(self) == "dotnet"
            ? $"{self} {Path.Combine(AppContext.BaseDirectory, "tributary.dll")}"
            : self;
        var configArgument = file is null ? $"--data-dir {config.Server.DataDir}" : $"--config {Path.GetFullPath(file)}";
        var what = file is null
            ? $"demo data ({config.Sources[0].Settings["path"]})"
            : $"{file} ({string.Join(", ", config.Sources.Select(s => s.Name))})";
        Console.Error.WriteLine($"""
            Tributary {TributaryServerExtensions.ServerInfo.Version} is serving {what}
              MCP endpoint (Streamable HTTP): {url}
              Legacy HTTP+SSE endpoint:       {address.TrimEnd('/')}{TributaryHttpExtensions.SsePath}
              Add to Claude Code (HTTP):      claude mcp add --transport http tributary {url}{(config.Auth.Enabled ? " --header \"Authorization: Bearer <token or trib_ key>\"" : "")}
              Add to Claude Code (stdio):     claude mcp add tributary -- {stdioCommand} serve --stdio {configArgument}
            Press Ctrl+C to stop.
            """);
    }
}
