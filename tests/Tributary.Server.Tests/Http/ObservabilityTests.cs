using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Tributary.Server.Tests.Mcp;
using Tributary.Server.Tests.Topics;
using Tributary.Testing;

namespace Tributary.Server.Tests.Http;

/// <summary>Prometheus metrics at /metrics during a run, and the trace id in tool errors (continuing a caller's traceparent).</summary>
public sealed class ObservabilityTests(TopicsServer server) : IClassFixture<TopicsServer>
{
    [Fact]
    public async Task Metrics_show_tool_calls_requests_events_and_subscriptions()
    {
        await using var client = await server.ConnectAsync();
        await client.CallOkAsync("query", new() { ["source"] = "shop", ["sql"] = "SELECT 1" });
        await client.CallErrorAsync("query", new() { ["source"] = "shop", ["sql"] = "SELECT * FROM nowhere" });
        await client.CallOkAsync("publish_event", new() { ["topic"] = "orders", ["type"] = "metrics.check", ["data"] = new { n = 1 } });
        await client.CallOkAsync("read_events", new() { ["topic"] = "orders", ["after"] = 0 });

        string[] expected =
        [
            "tributary_tool_calls_total{",
            "outcome=\"ok\"",
            "outcome=\"error\"",
            "tool=\"query\"",
            "tributary_tool_duration_seconds_bucket{",
            "tributary_events_in_total{",
            "topic=\"orders\"",
            "tributary_events_out_total{",
            "tributary_subscriptions_active",
            "mcp_server_operation_duration_seconds_bucket{",
        ];
        var text = await MetricsShowingAsync(server.BaseAddress, expected);
        Assert.All(expected, e => Assert.Contains(e, text, StringComparison.Ordinal));
    }

    /// <summary>The server's /metrics text once it shows all of <paramref name="expected"/> (the exporter caches a scrape for a moment), or after 5 s.</summary>
    internal static async Task<string> MetricsShowingAsync(Uri baseAddress, string[] expected)
    {
        using var http = new HttpClient { BaseAddress = baseAddress };
        var text = "";
        for (var attempt = 0; attempt < 50 && !expected.All(e => text.Contains(e, StringComparison.Ordinal)); attempt++)
        {
            await Task.Delay(100);
            text = await http.GetStringAsync("/metrics");
        }

        return text;
    }

    [Fact]
    public async Task A_tool_error_carries_the_trace_id_of_the_callers_traceparent()
    {
        const string traceId = "0af7651916cd43dd8448eb211c80319c";
        using var http = new HttpClient();
        using var request = RawMcp.ToolCall(server.McpEndpoint, "query", """{"source":"shop","sql":"SELECT * FROM nowhere"}""", $"\"traceparent\":\"00-{traceId}-b7ad6b7169203331-01\"");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("\"isError\":true", text, StringComparison.Ordinal);
        Assert.Contains($"(trace {traceId})", text, StringComparison.Ordinal);
    }
}

/// <summary>Tributary exporting over OTLP/HTTP to a collector stand-in on loopback.</summary>
public sealed class OtlpServer : Tributary.Testing.TributaryHttpServer
{
    private readonly List<(string Path, string? ContentType)> _received = [];

    public OtlpServer() => Collector = DisposedWithServer(Tributary.Testing.LoopbackHttpServer.Start((context, _) =>
    {
        lock (_received)
        {
            _received.Add((context.Request.Url!.AbsolutePath, context.Request.ContentType));
        }

        return Tributary.Testing.LoopbackHttpServer.AnswerAsync(context, "application/x-protobuf", Array.Empty<byte>());
    }));

    public Tributary.Testing.LoopbackHttpServer Collector { get; }

    public IReadOnlyList<(string Path, string? ContentType)> Received
    {
        get
        {
            lock (_received)
            {
                return [.. _received];
            }
        }
    }

    protected override async Task<Tributary.Core.Configuration.TributaryConfig> CreateConfigAsync()
    {
        var config = await base.CreateConfigAsync();
        return config with { Server = config.Server with { OtlpEndpoint = Collector.BaseAddress } };
    }
}

public sealed class OtlpExportTests(OtlpServer server) : IClassFixture<OtlpServer>
{
    [Fact]
    public async Task Traces_of_mcp_requests_reach_the_configured_collector()
    {
        await using var client = await server.ConnectAsync();
        await client.CallOkAsync("query", new() { ["source"] = "shop", ["sql"] = "SELECT 1" });

        // The batch exporter sends every few seconds.
        for (var attempt = 0; attempt < 300 && !server.Received.Any(r => r.Path == "/v1/traces"); attempt++)
        {
            await Task.Delay(100);
        }

        Assert.Contains(server.Received, r => r.Path == "/v1/traces");
        Assert.Equal("application/x-protobuf", server.Received.First(r => r.Path == "/v1/traces").ContentType);
    }
}
