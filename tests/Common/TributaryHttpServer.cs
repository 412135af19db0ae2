using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;
using Tributary.Core.Configuration;
using Tributary.Server.Hosting;
using Xunit;

namespace Tributary.Testing;

/// <summary>
/// Tributary's real HTTP host on a free loopback port, serving its own copy of the demo database; subclasses serve
/// other configurations through <see cref="CreateConfigAsync"/>.
/// </summary>
public class TributaryHttpServer : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _companions = [];
    private WebApplication? _app;

    /// <summary>Serves a fresh copy of the demo database from a data directory of its own.</summary>
    public TributaryHttpServer()
        : this(DemoDatabase.Copy(), TestPaths.NewTempDirectory())
    {
    }

    /// <summary>Serves <paramref name="databasePath"/> with Tributary's state in <paramref name="dataDirectory"/> (to restart over the same files).</summary>
    protected TributaryHttpServer(string databasePath, string dataDirectory)
    {
        DatabasePath = databasePath;
        DataDirectory = dataDirectory;
    }

    /// <summary>The database file the server reads.</summary>
    public string DatabasePath { get; }

    /// <summary>The server's base address, such as <c>http://127.0.0.1:41234</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The Streamable HTTP endpoint.</summary>
    public Uri McpEndpoint => new(BaseAddress, "/mcp");

    /// <summary>A data directory of its own, for Tributary's state (idempotency keys, audit log).</summary>
    public string DataDirectory { get; }

    /// <summary>The configuration served: by default one read-only sqlite source called <c>shop</c>.</summary>
    public TributaryConfig Config { get; private set; } = null!;

    /// <summary>The server's log messages of level warning and above.</summary>
    public CollectedLogs Logs { get; } = new();

    /// <summary>The running application's services.</summary>
    public IServiceProvider Services => _app!.Services;

    /// <summary>Where the server listens: a free loopback port unless a subclass needs to know it before start.</summary>
    protected virtual HttpEndpoint Endpoint => new(IPAddress.Loopback, 0);

    /// <summary>Builds the configuration to serve.</summary>
    protected virtual Task<TributaryConfig> CreateConfigAsync() => Task.FromResult(new TributaryConfig
    {
        Server = new ServerConfig { DataDir = DataDirectory },
        Sources = [new SourceConfig { Name = "shop", Kind = "sqlite", Description = "Demo shop", Settings = new Dictionary<string, string> { ["path"] = DatabasePath } }],
    });

    /// <summary>The configuration in <paramref name="yaml"/>, loaded as a file in <see cref="DataDirectory"/> would be, with Tributary's state in that directory.</summary>
    protected Task<TributaryConfig> FromYaml(string yaml)
    {
        var config = new ConfigLoader(SourceProviders.All).Load(yaml, DataDirectory);
        return Task.FromResult(config with { Server = config.Server with { DataDir = DataDirectory } });
    }

    /// <summary>Keeps <paramref name="companion"/> (an upstream API, an authorization server) to be disposed of once the server has stopped.</summary>
    protected T DisposedWithServer<T>(T companion)
        where T : IAsyncDisposable
    {
        _companions.Add(companion);
        return companion;
    }

    public virtual async Task InitializeAsync()
    {
        Config = await CreateConfigAsync();
        _app = TributaryHosts.CreateHttp(Config, Endpoint, LogLevel.Warning);
        _app.Services.GetRequiredService<ILoggerFactory>().AddProvider(Logs);
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        BaseAddress = new Uri(address);
    }

    /// <summary>Connects the SDK client over Streamable HTTP or legacy SSE, optionally pinned to a protocol version and with extra headers (credentials).</summary>
    public Task<McpClient> ConnectAsync(HttpTransportMode mode = HttpTransportMode.StreamableHttp, string? protocolVersion = null, IDictionary<string, string>? headers = null)
    {
        var endpoint = mode == HttpTransportMode.Sse ? new Uri(BaseAddress, "/sse") : McpEndpoint;
        var transport = new HttpClientTransport(new HttpClientTransportOptions { Endpoint = endpoint, TransportMode = mode, AdditionalHeaders = headers });
        return McpClient.CreateAsync(transport, new McpClientOptions { ProtocolVersion = protocolVersion });
    }

    public virtual async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        foreach (var companion in _companions)
        {
            await companion.DisposeAsync();
        }
    }
}
