using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tributary.Core.Configuration;
using Tributary.Server.Auth;
using Tributary.Server.Hosting;
using Tributary.Server.Mcp;
using Tributary.Server.State;
using Tributary.Testing;

namespace Tributary.Client.Tests;

/// <summary>Tributary over HTTP on a fixed loopback port (so a restart keeps the address), with API keys and an orders topic.</summary>
public sealed class ClientServer : TributaryHttpServer
{
    public ClientServer()
        : this(DemoDatabase.Copy(), TestPaths.NewTempDirectory(), TestPaths.FreePort())
    {
    }

    public ClientServer(string database, string data, int port, Uri? issuer = null, string? audience = null)
        : base(database, data)
    {
        Port = port;
        Issuer = issuer;
        Audience = audience;
    }

    /// <summary>Starts a server on a free port that accepts the OAuth tokens of <paramref name="issuer"/> (for <paramref name="audience"/>, when not its own URI).</summary>
    public static async Task<ClientServer> StartForIssuerAsync(Uri issuer, string? audience = null)
    {
        var server = new ClientServer(DemoDatabase.Copy(), TestPaths.NewTempDirectory(), TestPaths.FreePort(), issuer, audience);
        await server.InitializeAsync();
        return server;
    }

    /// <summary>The OAuth issuer whose tokens the server accepts, when any.</summary>
    public Uri? Issuer { get; }

    /// <summary>The audience its tokens must have, when not this server's own URI.</summary>
    public string? Audience { get; }

    public int Port { get; }

    protected override HttpEndpoint Endpoint => new(IPAddress.Loopback, Port);

    protected override Task<TributaryConfig> CreateConfigAsync() => FromYaml($$"""
        server:
          public_url: http://127.0.0.1:{{Port}}
        sources:
          shop: { kind: sqlite, path: {{DatabasePath}} }
        topics:
          orders: { description: Order activity }
        auth:
          api_keys: true
        {{(Issuer is null ? "" : $"  oauth: {{ issuer: {Issuer}{(Audience is null ? "" : $", audience: {Audience}")} }}")}}
        """);

    /// <summary>Creates an API key with every scope.</summary>
    public string CreateKey(string name)
    {
        using var keys = new ApiKeyStore(StateStore.PathIn(Config));
        return keys.Create(name, ["*"], null).Secret;
    }

    public TributaryClientOptions Options(string key) => new()
    {
        Endpoint = McpEndpoint,
        ApiKey = key,
        Retry = new RetryPolicy { Attempts = 20, FirstDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1) },
    };
}

/// <summary>Meters of one test only, told apart by their scope.</summary>
internal sealed class ScopedMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options.Name, options.Version, options.Tags, this);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose() => _meters.ForEach(m => m.Dispose());
}

public sealed record OrderRow([property: JsonPropertyName("id")] long Id, [property: JsonPropertyName("status")] string Status);

[JsonSerializable(typeof(OrderRow))]
internal sealed partial class ClientTestJson : JsonSerializerContext;

public sealed class ClientTests
{
    [Fact]
    public async Task Over_http_it_lists_queries_across_pages_maps_rows_and_reports_tool_errors()
    {
        await using var server = new ClientServer();
        await server.InitializeAsync();
        await using var client = await TributaryClient.ConnectAsync(server.Options(server.CreateKey("reader")));

        var sources = await client.ListSourcesAsync();
        Assert.Equal("shop", Assert.Single(sources.Sources).Name);
        Assert.Equal(["orders"], sources.Topics);
        Assert.True((await client.DescribeSchemaAsync("shop", "orders")).GetRawText().Contains("customer_id", StringComparison.Ordinal));

        var ids = new List<long>();
        await foreach (var row in client.QueryAsync("shop", "SELECT id, status FROM orders WHERE id <= 25 ORDER BY id", maxRows: 7))
        {
            ids.Add(row["id"].GetInt64());
        }

        Assert.Equal(Enumerable.Range(1, 25).Select(i => (long)i), ids);

        var parameters = new Dictionary<string, JsonElement> { ["id"] = JsonElement.Parse("3") };
        var order = Assert.Single(await client.QueryAsync("shop", "SELECT id, status FROM orders WHERE id = @id", ClientTestJson.Default.OrderRow, parameters).ToListAsync());
        Assert.Equal(3, order.Id);
        Assert.False(string.IsNullOrEmpty(order.Status));

        var error = await Assert.ThrowsAsync<TributaryToolException>(() => client.QueryAsync("shop", "DELETE FROM orders").ToListAsync().AsTask());
        Assert.Equal("query", error.Tool);
        Assert.Contains("read", error.ToolMessage, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_subscription_gets_each_event_once_across_a_server_restart()
    {
        var database = DemoDatabase.Copy();
        var data = TestPaths.NewTempDirectory();
        var port = TestPaths.FreePort();
        var first = new ClientServer(database, data, port);
        await first.InitializeAsync();
        var key = first.CreateKey("follower");
        await using var client = await TributaryClient.ConnectAsync(first.Options(key));
        var statuses = new List<ConnectionStatus>();
        client.StatusChanged += (_, status) => { lock (statuses) { statuses.Add(status); } };

        var start = (await client.CallToolAsync("read_events", new Dictionary<string, JsonElement> { ["topic"] = JsonElement.Parse("\"orders\""), ["limit"] = JsonElement.Parse("1") })).GetProperty("cursor").GetInt64();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var received = new List<TopicEvent>();
        var enough = new TaskCompletionSource();
        var subscription = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in client.SubscribeAsync("orders", after: start, cancellationToken: stop.Token))
                {
                    lock (received)
                    {
                        received.Add(e);
                        if (received.Count == 5)
                        {
                            enough.TrySetResult();
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        });

        await using (var publisher = await TributaryClient.ConnectAsync(first.Options(key)))
        {
            for (var i = 1; i <= 3; i++)
            {
                await publisher.PublishAsync("orders", "order.created", JsonElement.Parse($$"""{"n":{{i}}}"""));
            }

            await WaitUntilAsync(() => { lock (received) { return received.Count == 3; } });
        }

        // The server goes away and comes back on the same address and files; two more events.
        await first.DisposeAsync();
        await using var second = new ClientServer(database, data, port);
        await second.InitializeAsync();
        await using (var publisher = await TributaryClient.ConnectAsync(second.Options(key)))
        {
            for (var i = 4; i <= 5; i++)
            {
                await publisher.PublishAsync("orders", "order.created", JsonElement.Parse($$"""{"n":{{i}}}"""));
            }
        }

        await enough.Task.WaitAsync(stop.Token);
        // It listens again on the new server.
        await WaitUntilAsync(() => second.Services.GetRequiredService<TopicSubscriptions>().Active == 1);
        await stop.CancelAsync();
        await subscription;
        Assert.Equal([1, 2, 3, 4, 5], received.Select(e => e.Data.GetProperty("n").GetInt32()));
        Assert.Equal(received.Count, received.Select(e => e.Sequence).Distinct().Count());
        Assert.Contains(ConnectionStatus.Reconnecting, statuses);
        Assert.Contains(ConnectionStatus.Connected, statuses);
    }

    /// <summary>
    /// The server notifies the subscription (a held <c>subscriptions/listen</c> at 2026-07-28, <c>resources/subscribe</c> on
    /// an older session, over HTTP, WebSocket and legacy SSE), the client reads each event once from its cursor, and when the enumeration
    /// ends the server lets the subscription go.
    /// </summary>
    [Theory]
    [InlineData(TributaryTransport.Http, null)]
    [InlineData(TributaryTransport.Http, "2025-11-25")]
    [InlineData(TributaryTransport.WebSocket, null)]
    [InlineData(TributaryTransport.WebSocket, "2025-11-25")]
    [InlineData(TributaryTransport.Sse, "2025-11-25")]
    public async Task A_subscription_is_notified_by_the_server_in_either_era_and_released_when_it_ends(TributaryTransport transport, string? protocolVersion)
    {
        await using var server = new ClientServer();
        await server.InitializeAsync();
        var subscriptions = server.Services.GetRequiredService<TopicSubscriptions>();
        var options = server.Options(server.CreateKey("follower")) with { ProtocolVersion = protocolVersion, Transport = transport };
        options = transport switch
        {
            TributaryTransport.WebSocket => options with { Endpoint = new Uri($"ws://127.0.0.1:{server.Port}/ws") },
            TributaryTransport.Sse => options with { Endpoint = new Uri(server.BaseAddress, "/sse") },
            _ => options,
        };

        await using var client = await TributaryClient.ConnectAsync(options);
        Assert.Equal(protocolVersion ?? "2026-07-28", client.Mcp.NegotiatedProtocolVersion);
        var received = Channel.CreateUnbounded<TopicEvent>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var following = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in client.SubscribeAsync("orders", new TopicFilter { Types = ["order.paid"] }, cancellationToken: stop.Token))
                {
                    await received.Writer.WriteAsync(e);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        });

        await WaitUntilAsync(() => subscriptions.Active == 1);
        await using (var publisher = await TributaryClient.ConnectAsync(server.Options(server.CreateKey("publisher"))))
        {
            for (var i = 1; i <= 3; i++)
            {
                await publisher.PublishAsync("orders", "order.created", JsonElement.Parse($$"""{"n":{{-i}}}"""));
                await publisher.PublishAsync("orders", "order.paid", JsonElement.Parse($$"""{"n":{{i}}}"""));
            }
        }

        var events = new List<TopicEvent>();
        while (events.Count < 3)
        {
            events.Add(await received.Reader.ReadAsync(stop.Token));
        }

        Assert.Equal([1, 2, 3], events.Select(e => e.Data.GetProperty("n").GetInt32()));
        Assert.All(events, e => Assert.Equal("order.paid", e.Type));
        await stop.CancelAsync();
        await following;
        await WaitUntilAsync(() => subscriptions.Active == 0);
        Assert.False(received.Reader.TryRead(out _));
    }

    /// <summary>Each request is logged (secrets redacted, in the parameters and in the result) and measured on the client's meter.</summary>
    [Fact]
    public async Task Requests_are_logged_without_secrets_and_measured()
    {
        await using var server = new ClientServer();
        await server.InitializeAsync();
        var key = server.CreateKey("observed");
        var logs = new CollectedLogs();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        using var meters = new ScopedMeterFactory();
        var measured = new List<(string Instrument, string Outcome)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == meters)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) => Record(instrument, tags));
        listener.SetMeasurementEventCallback<double>((instrument, _, tags, _) => Record(instrument, tags));
        listener.Start();

        await using (var client = await TributaryClient.ConnectAsync(server.Options(key) with { LoggerFactory = loggers, MeterFactory = meters }))
        {
            const string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl";
            var parameters = new Dictionary<string, JsonElement> { ["token"] = JsonElement.Parse($"\"{jwt}\"") };
            var row = Assert.Single(await client.QueryAsync("shop", "SELECT @token AS echoed", parameters).ToListAsync());
            Assert.Equal(jwt, row["echoed"].GetString());
            await Assert.ThrowsAsync<TributaryToolException>(() => client.QueryAsync("shop", "SELECT * FROM nowhere").ToListAsync().AsTask());

            var text = logs.ToString();
            Assert.Contains("tools/call query", text, StringComparison.Ordinal);
            Assert.Contains(": ok in", text, StringComparison.Ordinal);
            Assert.Contains(": tool_error in", text, StringComparison.Ordinal);
            Assert.Contains("[redacted]", text, StringComparison.Ordinal);
            Assert.DoesNotContain(jwt, text, StringComparison.Ordinal);
            Assert.DoesNotContain(key, text, StringComparison.Ordinal);
        }

        lock (measured)
        {
            Assert.Contains(("tributary.client.requests", "ok"), measured);
            Assert.Contains(("tributary.client.request.duration", "ok"), measured);
            Assert.Contains(("tributary.client.errors", "tool_error"), measured);
            Assert.DoesNotContain(("tributary.client.errors", "ok"), measured);
        }

        void Record(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var outcome = "";
            foreach (var (name, value) in tags)
            {
                outcome = name == "outcome" ? (string)value! : outcome;
            }

            lock (measured)
            {
                measured.Add((instrument.Name, outcome));
            }
        }
    }

    [Fact]
    public async Task Refused_credentials_and_an_unreachable_server_are_told_apart()
    {
        await using var server = new ClientServer();
        await server.InitializeAsync();
        await Assert.ThrowsAsync<TributaryAuthenticationException>(() => TributaryClient.ConnectAsync(server.Options("trib_000000000000_nope")));

        var closed = new TributaryClientOptions
        {
            Endpoint = new Uri($"http://127.0.0.1:{TestPaths.FreePort()}/mcp"),
            Retry = new RetryPolicy { Attempts = 3, FirstDelay = TimeSpan.FromMilliseconds(50) },
        };
        var error = await Assert.ThrowsAsync<TributaryConnectionException>(() => TributaryClient.ConnectAsync(closed));
        Assert.Contains("after 3 tries", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new TributaryClientOptions { Transport = TributaryTransport.Stdio }.Validate());
    }

    [Fact]
    public async Task Over_legacy_sse_it_works_the_same()
    {
        await using var server = new ClientServer();
        await server.InitializeAsync();
        var options = server.Options(server.CreateKey("sse")) with { Transport = TributaryTransport.Sse, Endpoint = new Uri(server.BaseAddress, "/sse") };
        await using var client = await TributaryClient.ConnectAsync(options);
        Assert.Equal("shop", Assert.Single((await client.ListSourcesAsync()).Sources).Name);
        Assert.Equal(10, (await client.QueryAsync("shop", "SELECT id FROM orders LIMIT 10").ToListAsync()).Count);
    }

    [Fact]
    public async Task Over_stdio_it_starts_the_server_and_reads_from_it()
    {
        var options = new TributaryClientOptions
        {
            Transport = TributaryTransport.Stdio,
            Command = TestPaths.DotnetHost,
            Arguments = [TestPaths.CliDll, "serve", "--stdio", "--data-dir", DemoDatabase.DataDirectory()],
            Environment = new Dictionary<string, string?> { ["TRIBUTARY_CONFIG"] = null, ["TRIBUTARY_API_KEY"] = null },
        };
        await using var client = await TributaryClient.ConnectAsync(options);
        var count = Assert.Single(await client.QueryAsync("shop", "SELECT count(*) AS n FROM customers").ToListAsync());
        Assert.True(count["n"].GetInt64() > 0);
        Assert.Contains("orders", await client.ReadResourceAsync("tributary://sources/shop/schema"), StringComparison.Ordinal);

        // Following a topic over stdio (2026-07-28: subscriptions/listen on the same pipe as the reads).
        Assert.Equal("2026-07-28", client.Mcp.NegotiatedProtocolVersion);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var first = client.SubscribeAsync("orders", new TopicFilter { Types = ["test.marker"] }, cancellationToken: stop.Token).FirstAsync(stop.Token);
        var published = 0L;
        while (!first.IsCompleted)
        {
            // The subscription starts from now on: publish until it has seen one.
            published = await client.PublishAsync("orders", "test.marker", JsonElement.Parse("""{"n":1}"""));
            await Task.WhenAny(first.AsTask(), Task.Delay(200, stop.Token));
        }

        var marker = await first;
        Assert.Equal("test.marker", marker.Type);
        Assert.True(marker.Sequence <= published);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var attempt = 0; attempt < 600 && !condition(); attempt++)
        {
            await Task.Delay(50);
        }

        Assert.True(condition());
    }
}

/// <summary>Servers that misbehave: the client ends each case with a clear <see cref="TributaryConnectionException"/>.</summary>
public sealed class MisbehavingServerTests
{
    [Fact]
    public async Task Garbage_silence_and_a_stdio_program_that_is_not_a_server_end_in_clear_connection_errors()
    {
        // /garbage answers text that is not JSON-RPC; anything else is never answered.
        await using var upstream = LoopbackHttpServer.Start(async (context, stop) =>
        {
            if (context.Request.Url!.AbsolutePath == "/garbage")
            {
                await LoopbackHttpServer.AnswerAsync(context, "application/json", "this is { not json"u8.ToArray());
                return;
            }

            try
            {
                await Task.Delay(Timeout.Infinite, stop);
            }
            catch (OperationCanceledException)
            {
                context.Response.Abort();
            }
        });
        var port = upstream.Port;

        var retry = new RetryPolicy { Attempts = 2, FirstDelay = TimeSpan.FromMilliseconds(50) };
        var garbage = await Assert.ThrowsAsync<TributaryConnectionException>(() => TributaryClient.ConnectAsync(new TributaryClientOptions { Endpoint = new Uri($"http://127.0.0.1:{port}/garbage"), Retry = retry }));
        Assert.Contains($"127.0.0.1:{port}/garbage", garbage.Message, StringComparison.Ordinal);

        var silent = await Assert.ThrowsAsync<TributaryConnectionException>(() => TributaryClient.ConnectAsync(new TributaryClientOptions { Endpoint = new Uri($"http://127.0.0.1:{port}/silent"), Retry = retry, RequestTimeout = TimeSpan.FromSeconds(1) }));
        Assert.Contains("after 2 tries", silent.Message, StringComparison.Ordinal);

        // A program that prints text and exits is not a stdio server.
        var notServer = await Assert.ThrowsAsync<TributaryConnectionException>(() => TributaryClient.ConnectAsync(new TributaryClientOptions
        {
            Transport = TributaryTransport.Stdio,
            Command = "/bin/sh",
            Arguments = ["-c", "echo 'hello, I am not MCP'; sleep 0.2"],
            Retry = retry,
            RequestTimeout = TimeSpan.FromSeconds(5),
        }));
        Assert.Contains("/bin/sh", notServer.Message, StringComparison.Ordinal);
        Assert.Contains("not JSON-RPC", notServer.Message, StringComparison.Ordinal);

        // A line of 20 MiB is refused at 16 MiB, without reading it whole.
        var huge = await Assert.ThrowsAsync<TributaryConnectionException>(() => TributaryClient.ConnectAsync(new TributaryClientOptions
        {
            Transport = TributaryTransport.Stdio,
            Command = "/bin/sh",
            Arguments = ["-c", "head -c 20971520 /dev/zero | tr '\\0' a; echo; sleep 5"],
            Retry = retry,
        }));
        Assert.Contains("a line of more than 16777216 bytes", huge.Message, StringComparison.Ordinal);
    }
}

/// <summary>The client getting its own tokens from a real authorization server (OAuth 2.1 client credentials).</summary>
public sealed class OAuthClientTests
{
    [Fact]
    public async Task Client_credentials_from_discovery_work_and_refusals_end_without_a_loop()
    {
        await using var issuer = await TestAuthorizationServer.StartAsync();
        await using var server = await ClientServer.StartForIssuerAsync(issuer.Issuer);
        var credentials = new OAuthClientCredentials
        {
            Issuer = issuer.Issuer,
            ClientId = TestAuthorizationServer.DefaultConfidentialClient.Id,
            ClientSecret = TestAuthorizationServer.DefaultConfidentialClient.Secret!,
            Scopes = ["sources:shop:read"],
        };
        var options = new TributaryClientOptions { Endpoint = server.McpEndpoint, OAuth = credentials, Retry = new RetryPolicy { Attempts = 2, FirstDelay = TimeSpan.FromMilliseconds(50) } };
        await using (var client = await TributaryClient.ConnectAsync(options))
        {
            Assert.Equal("shop", Assert.Single((await client.ListSourcesAsync()).Sources).Name);
            Assert.Empty((await client.ListSourcesAsync()).Topics);
        }

        // Without an issuer, the authorization server is the one the server's protected resource metadata names.
        await using (var client = await TributaryClient.ConnectAsync(options with { OAuth = credentials with { Issuer = null } }))
        {
            Assert.Equal("shop", Assert.Single((await client.ListSourcesAsync()).Sources).Name);
        }

        var wrongSecret = await Assert.ThrowsAsync<TributaryAuthenticationException>(() => TributaryClient.ConnectAsync(options with { OAuth = credentials with { ClientSecret = "not-the-secret" } }));
        Assert.Contains("refused the client credentials", wrongSecret.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-secret", wrongSecret.Message, StringComparison.Ordinal);

        // Tokens for another resource are refused by the server every time: one renewal at most, then a clear error.
        var otherAudience = await Assert.ThrowsAsync<TributaryAuthenticationException>(() => TributaryClient.ConnectAsync(options with { OAuth = credentials with { Resource = "http://127.0.0.1:1/mcp" } }));
        Assert.Contains("401", otherAudience.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_endpoint_that_is_not_an_https_url_is_never_called()
    {
        await using var issuer = LoopbackHttpServer.Start((context, _) =>
            LoopbackHttpServer.AnswerAsync(context, "application/json", """{"issuer":"x","token_endpoint":"javascript:alert(1)"}"""u8.ToArray()));
        var port = issuer.Port;

        var options = new TributaryClientOptions
        {
            Endpoint = new Uri("http://127.0.0.1:1/mcp"),
            OAuth = new OAuthClientCredentials { Issuer = new Uri($"http://127.0.0.1:{port}/"), ClientId = "c", ClientSecret = "s" },
            Retry = new RetryPolicy { Attempts = 2, FirstDelay = TimeSpan.FromMilliseconds(20) },
        };
        var error = await Assert.ThrowsAsync<TributaryConnectionException>(() => TributaryClient.ConnectAsync(options));
        Assert.Contains("not an https URL: 'javascript:alert(1)'", error.Message, StringComparison.Ordinal);
    }
}
