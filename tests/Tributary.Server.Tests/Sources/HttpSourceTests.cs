using System.Net;
using Tributary.Core.Configuration;
using Tributary.Server.Hosting;
using Tributary.Server.Tests.Mcp;
using Tributary.Testing;

namespace Tributary.Server.Tests.Sources;

/// <summary>Tributary with an <c>http</c> source whose API is a real server on loopback (allowed explicitly by range).</summary>
public sealed class HttpSourceServer : TributaryHttpServer
{
    private readonly List<(string PathAndQuery, string? Authorization)> _seen = [];
    private int _flaky;

    public HttpSourceServer() => Upstream = DisposedWithServer(LoopbackHttpServer.Start(AnswerAsync));

    public LoopbackHttpServer Upstream { get; }

    public IReadOnlyList<(string PathAndQuery, string? Authorization)> Seen
    {
        get
        {
            lock (_seen)
            {
                return [.. _seen];
            }
        }
    }

    protected override Task<TributaryConfig> CreateConfigAsync() => FromYaml($$"""
        sources:
          shop: { kind: sqlite, path: {{DatabasePath}} }
          api:
            kind: http
            description: The ticket API
            base_url: http://127.0.0.1:{{Upstream.Port}}/v1
            allowed_ranges: [127.0.0.1/32]
            bearer_token: upstream-secret-7d1c
            retries: 1
            max_result_bytes: 4096
        """);

    private Task AnswerAsync(HttpListenerContext context, CancellationToken cancellationToken)
    {
        lock (_seen)
        {
            _seen.Add((context.Request.Url!.PathAndQuery, context.Request.Headers["Authorization"]));
        }

        switch (context.Request.Url.AbsolutePath)
        {
            case "/v1/tickets":
                return LoopbackHttpServer.AnswerAsync(context, "application/json", """[{"id":1,"title":"Printer on fire"}]"""u8.ToArray());
            case "/v1/to-metadata":
                context.Response.StatusCode = 302;
                context.Response.RedirectLocation = "http://169.254.169.254/latest/meta-data/";
                context.Response.Close();
                return Task.CompletedTask;
            case "/v1/flaky":
                // Good once, then failing: the API's outage.
                context.Response.StatusCode = Interlocked.Increment(ref _flaky) == 1 ? 200 : 503;
                return LoopbackHttpServer.AnswerAsync(context, "application/json", """{"status":"green"}"""u8.ToArray());
            case "/v1/big":
                return LoopbackHttpServer.AnswerAsync(context, "text/plain", new byte[8192]);
            default:
                context.Response.StatusCode = 404;
                return LoopbackHttpServer.AnswerAsync(context, "text/plain", "no such ticket"u8.ToArray());
        }
    }
}

public sealed class HttpSourceTests(HttpSourceServer server) : IClassFixture<HttpSourceServer>
{
    [Fact]
    public async Task Fetch_reads_the_api_with_the_sources_credentials_never_the_callers()
    {
        await using var client = await server.ConnectAsync(headers: new Dictionary<string, string> { ["Authorization"] = "Bearer caller-token-9f3e" });
        Assert.Contains("fetch", (await client.ListToolsAsync()).Select(t => t.Name));
        var result = await client.CallOkAsync("fetch", new() { ["source"] = "api", ["path"] = "/tickets", ["query"] = new { state = "open", limit = 5 } });
        Assert.Equal(200, result.GetProperty("status").GetInt32());
        Assert.Equal("Printer on fire", result.GetProperty("body")[0].GetProperty("title").GetString());

        var seen = server.Seen.Single(s => s.PathAndQuery.StartsWith("/v1/tickets", StringComparison.Ordinal));
        Assert.Equal("/v1/tickets?state=open&limit=5", seen.PathAndQuery);
        Assert.Equal("Bearer upstream-secret-7d1c", seen.Authorization);
        Assert.DoesNotContain(server.Seen, s => s.Authorization?.Contains("caller-token", StringComparison.Ordinal) == true);

        var sources = (await client.CallOkAsync("list_sources")).GetProperty("sources");
        Assert.Contains(sources.EnumerateArray(), s => s.GetProperty("name").GetString() == "api" && s.GetProperty("kind").GetString() == "http");
    }

    [Fact]
    public async Task While_the_api_is_down_fetch_serves_its_last_good_answer_marked_stale_and_degraded()
    {
        await using var client = await server.ConnectAsync();
        var fresh = await client.CallOkAsync("fetch", new() { ["source"] = "api", ["path"] = "/flaky" });
        Assert.Equal("miss", fresh.GetProperty("cache").GetString());
        Assert.False(fresh.TryGetProperty("stale", out _));

        var stale = await client.CallOkAsync("fetch", new() { ["source"] = "api", ["path"] = "/flaky" });
        Assert.Equal("stale", stale.GetProperty("cache").GetString());
        Assert.True(stale.GetProperty("stale").GetBoolean());
        Assert.True(stale.GetProperty("degraded").GetBoolean());
        Assert.Equal("green", stale.GetProperty("body").GetProperty("status").GetString());

        // The cache's outcomes are counted for /metrics (the hit ratio is hits over all answers).
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var metrics = "";
        for (var attempt = 0; attempt < 50 && !metrics.Contains("cache=\"stale\"", StringComparison.Ordinal); attempt++)
        {
            await Task.Delay(100);
            metrics = await http.GetStringAsync("/metrics");
        }

        Assert.Contains("tributary_http_answers_total{", metrics, StringComparison.Ordinal);
        Assert.Contains("cache=\"stale\"", metrics, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("//evil.example/x", "not a path under api's base URL")]
    [InlineData("http://169.254.169.254/latest/meta-data/", "not a path under api's base URL")]
    [InlineData("/../admin", "'/../admin' leaves api's base URL")]
    [InlineData("/tickets/../../admin", "leaves api's base URL")]
    [InlineData("/%2e%2e/admin", "leaves api's base URL")]
    [InlineData("/to-metadata", "not one of this source's allowed hosts")]
    [InlineData("/missing", "api answered HTTP 404: no such ticket")]
    [InlineData("/big", "over the source's max_result_bytes of 4096")]
    public async Task What_fetch_may_not_reach_or_return_is_a_clear_tool_error(string path, string expected)
    {
        await using var client = await server.ConnectAsync();
        var error = await client.CallErrorAsync("fetch", new() { ["source"] = "api", ["path"] = path });
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain("upstream-secret", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sql_tools_and_fetch_tell_sources_apart()
    {
        await using var client = await server.ConnectAsync();
        Assert.Contains("is an HTTP API, not a database", await client.CallErrorAsync("query", new() { ["source"] = "api", ["sql"] = "SELECT 1" }), StringComparison.Ordinal);
        Assert.Contains("not an HTTP API source", await client.CallErrorAsync("fetch", new() { ["source"] = "shop", ["path"] = "/x" }), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("base_url: file:///etc/passwd", "sources.api.base_url", "not an http or https URL")]
    [InlineData("base_url: http://user@api.example.com", "sources.api.base_url", "without user info")]
    [InlineData("base_url: https://api.example.com\n    allowed_ranges: [everything]", "sources.api.allowed_ranges", "not an address range")]
    [InlineData("base_url: https://api.example.com\n    api_key: k", "sources.api.api_key", "go together")]
    [InlineData("base_url: https://api.example.com\n    allowed_hosts: [other.example.com]", "sources.api.allowed_hosts", "not among allowed_hosts")]
    public void Bad_http_source_settings_are_refused_at_start_up(string settings, string path, string message)
    {
        var error = Assert.Throws<ConfigException>(() => new ConfigLoader(SourceProviders.All).Load($"sources:\n  api:\n    kind: http\n    {settings}\n", "/"));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}
