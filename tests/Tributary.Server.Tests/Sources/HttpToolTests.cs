using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Server;
using Tributary.Core.Configuration;
using Tributary.Server.Mcp;
using Tributary.Server.Tests.Mcp;
using Tributary.Testing;

namespace Tributary.Server.Tests.Sources;

/// <summary>Tributary with named tools over an <c>http</c> source whose API is a recording server on loopback.</summary>
public sealed class HttpToolServer : TributaryHttpServer
{
    public HttpToolServer() => DisposedWithServer(Upstream);

    public RecordingUpstream Upstream { get; } = new(request => request.Target switch
    {
        var t when t.StartsWith("/v1/repos/", StringComparison.Ordinal) => (200, "application/json", """{"total":1,"items":[{"number":7,"title":"Printer on fire"}]}"""),
        var t when t.StartsWith("/v1/fail", StringComparison.Ordinal) => (500, "text/plain", "internal error"),
        "/v1/tickets" => (201, "application/json", """{"id":12}"""),
        var t when t.StartsWith("/v1/tickets/", StringComparison.Ordinal) => (204, "application/json", ""),
        _ => (404, "text/plain", "no such thing"),
    });

    protected override Task<TributaryConfig> CreateConfigAsync() => FromYaml($$"""
        sources:
          tracker:
            kind: http
            base_url: {{Upstream.Url("/v1")}}
            allowed_ranges: [127.0.0.1/32]
            retries: 1
            headers: { Accept: application/vnd.tracker+json }
        tools:
          open_issues:
            source: tracker
            description: Open issues of a repository
            path: /repos/{owner}/{repo}/issues
            query: { state: state, per_page: limit }
            pointer: /items
            parameters:
              owner: { type: string, required: true }
              repo: { type: string, required: true }
              state: { type: string, enum: [open, closed], default: open }
              limit: { type: integer, minimum: 1, maximum: 100 }
          issue_count:
            source: tracker
            path: /repos/{owner}/x
            pointer: /missing
            parameters:
              owner: { type: string, required: true }
          open_ticket:
            source: tracker
            method: POST
            path: /tickets
            body: { title: title, priority: level, tags: tags }
            parameters:
              title: { type: string, required: true }
              level: { type: integer, default: "3" }
              tags: { type: string }
          close_ticket:
            source: tracker
            method: DELETE
            path: /tickets/{id}
            parameters:
              id: { type: integer, required: true }
          retitle_ticket:
            source: tracker
            method: PUT
            path: /tickets/{id}
            body: [title]
            idempotent: false
            parameters:
              id: { type: integer, required: true }
              title: { type: string, required: true }
          fail_post:
            source: tracker
            method: POST
            path: /fail/post
          fail_get:
            source: tracker
            path: /fail/get
          cached_issues:
            source: tracker
            path: /repos/{owner}/cached
            cache_ttl: 60s
            parameters:
              owner: { type: string, required: true }
        """);
}

public sealed class HttpToolTests(HttpToolServer server) : IClassFixture<HttpToolServer>
{
    [Fact]
    public async Task Http_tools_are_listed_with_their_parameters_and_honest_annotations()
    {
        await using var client = await server.ConnectAsync();
        var tools = (await client.ListToolsAsync()).ToDictionary(t => t.Name, t => t.ProtocolTool);

        var schema = tools["open_issues"].InputSchema;
        Assert.Equal(["owner", "repo"], schema.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(100, schema.GetProperty("properties").GetProperty("limit").GetProperty("maximum").GetInt32());
        Assert.Contains("Open issues of a repository", tools["open_issues"].Description, StringComparison.Ordinal);
        Assert.Equal("object", tools["open_issues"].OutputSchema!.Value.GetProperty("type").GetString());

        Assert.Equal((true, false, true), Hints(tools["open_issues"]));
        Assert.Equal((false, false, false), Hints(tools["open_ticket"]));
        Assert.Equal((false, true, true), Hints(tools["close_ticket"]));
        Assert.Equal((false, true, false), Hints(tools["retitle_ticket"]));

        // Each tool is its own grant, as named SQL tools are.
        var registered = server.Services.GetServices<McpServerTool>().OfType<TributaryTool>().Single(t => t.ProtocolTool.Name == "open_ticket");
        Assert.Equal("tools:open_ticket", registered.RequiredScope(null));

        static (bool?, bool?, bool?) Hints(ModelContextProtocol.Protocol.Tool tool) => (tool.Annotations!.ReadOnlyHint, tool.Annotations.DestructiveHint, tool.Annotations.IdempotentHint);
    }

    [Fact]
    public async Task A_get_tool_fills_its_path_and_query_and_returns_the_part_its_pointer_names()
    {
        await using var client = await server.ConnectAsync();
        var result = await client.CallOkAsync("open_issues", new() { ["owner"] = "octo", ["repo"] = "hello", ["limit"] = 5 });

        Assert.Equal(("tracker", 200, "miss"), (result.GetProperty("source").GetString(), result.GetProperty("status").GetInt32(), result.GetProperty("cache").GetString()));
        Assert.Equal("Printer on fire", result.GetProperty("body")[0].GetProperty("title").GetString());
        var seen = server.Upstream.Requests.Last(r => r.Target.StartsWith("/v1/repos/octo/hello", StringComparison.Ordinal));
        Assert.Equal(("GET", "/v1/repos/octo/hello/issues?state=open&per_page=5"), (seen.Method, seen.Target));
        Assert.Equal("application/vnd.tracker+json", seen.Headers["Accept"]);
    }

    [Fact]
    public async Task A_get_tool_with_its_own_cache_ttl_is_answered_from_the_cache_on_a_source_that_caches_nothing()
    {
        await using var client = await server.ConnectAsync();
        var cached = new List<string?>();
        var uncached = new List<string?>();
        for (var i = 0; i < 2; i++)
        {
            cached.Add((await client.CallOkAsync("cached_issues", new() { ["owner"] = "kept" })).GetProperty("cache").GetString());
            uncached.Add((await client.CallOkAsync("open_issues", new() { ["owner"] = "kept", ["repo"] = "fresh" })).GetProperty("cache").GetString());
        }

        Assert.Equal(["miss", "hit"], cached);
        Assert.Equal(["miss", "miss"], uncached);
        Assert.Single(server.Upstream.Requests, r => r.Target == "/v1/repos/kept/cached");
        Assert.Equal(2, server.Upstream.Requests.Count(r => r.Target.StartsWith("/v1/repos/kept/fresh/issues", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_post_tool_sends_its_body_parameters_as_json()
    {
        await using var client = await server.ConnectAsync();
        var result = await client.CallOkAsync("open_ticket", new() { ["title"] = "Printer on \"fire\"" });

        Assert.Equal(201, result.GetProperty("status").GetInt32());
        Assert.Equal(12, result.GetProperty("body").GetProperty("id").GetInt32());
        var seen = server.Upstream.Requests.Last(r => r.Target == "/v1/tickets");
        Assert.Equal("POST", seen.Method);
        var body = JsonElement.Parse(seen.Body);
        Assert.Equal(("Printer on \"fire\"", 3), (body.GetProperty("title").GetString(), body.GetProperty("priority").GetInt32()));
        Assert.False(body.TryGetProperty("tags", out _));
    }

    [Fact]
    public async Task A_body_carries_the_models_text_as_given_escaping_only_what_json_must()
    {
        await using var client = await server.ConnectAsync();
        const string Title = "Café <b>\"déjà\"</b> & 'vu' + 日本 \\ end\n🚀";
        await client.CallOkAsync("open_ticket", new() { ["title"] = Title, ["tags"] = "a&b" });

        var seen = server.Upstream.Requests.Last(r => r.Target == "/v1/tickets");
        // Only what JSON must escape is escaped, and a character outside the Basic Multilingual Plane, as a surrogate pair.
        Assert.Equal("""{"title":"Café <b>\"déjà\"</b> & 'vu' + 日本 \\ end\n\uD83D\uDE80","priority":3,"tags":"a&b"}""", seen.Body);
        Assert.Equal(Title, JsonElement.Parse(seen.Body).GetProperty("title").GetString());
    }

    [Fact]
    public async Task A_delete_tool_puts_its_typed_parameter_in_the_path()
    {
        await using var client = await server.ConnectAsync();
        var result = await client.CallOkAsync("close_ticket", new() { ["id"] = 44 });
        Assert.Equal(204, result.GetProperty("status").GetInt32());
        Assert.Contains(server.Upstream.Requests, r => r.Method == "DELETE" && r.Target == "/v1/tickets/44");
    }

    [Theory]
    [InlineData("a/b", "/v1/repos/a%2Fb/hello/issues?state=open")]
    [InlineData("../admin", "/v1/repos/..%2Fadmin/hello/issues?state=open")]
    [InlineData("%2e%2e", "/v1/repos/%252e%252e/hello/issues?state=open")]
    [InlineData("?x=1", "/v1/repos/%3Fx%3D1/hello/issues?state=open")]
    [InlineData("#top", "/v1/repos/%23top/hello/issues?state=open")]
    public async Task A_path_parameter_reaches_the_api_as_exactly_one_segment(string owner, string target)
    {
        await using var client = await server.ConnectAsync();
        await client.CallOkAsync("open_issues", new() { ["owner"] = owner, ["repo"] = "hello" });
        Assert.Contains(server.Upstream.Requests, r => r.Target == target);
    }

    [Theory]
    [InlineData("open_issues", """{"owner":"..","repo":"hello"}""", "'owner' may not be empty, '.' or '..'")]
    [InlineData("open_issues", """{"owner":"octo"}""", "'repo' is required")]
    [InlineData("open_issues", """{"owner":"octo","repo":"hello","limit":"5"}""", "'limit' must be a whole number")]
    [InlineData("open_issues", """{"owner":"octo","repo":"hello","state":"all"}""", "'state' must be one of: open, closed")]
    [InlineData("open_issues", """{"owner":"octo","repo":"hello","path":"/admin"}""", "'path' is not accepted here")]
    [InlineData("close_ticket", """{"id":1.5}""", "'id' must be a whole number")]
    [InlineData("issue_count", """{"owner":"octo"}""", "tracker's answer has nothing at /missing (this tool's pointer)")]
    [InlineData("fail_post", "{}", "tracker answered HTTP 500: internal error")]
    public async Task Bad_arguments_and_bad_answers_are_tool_errors_that_say_why(string tool, string arguments, string expected)
    {
        await using var client = await server.ConnectAsync();
        var given = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(arguments)!.ToDictionary(a => a.Key, a => (object?)a.Value);
        var error = await client.CallErrorAsync(tool, given);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_post_reaches_the_api_once_while_a_failing_get_is_retried()
    {
        await using var client = await server.ConnectAsync();
        var before = (Hits("/v1/fail/post"), Hits("/v1/fail/get"));
        await client.CallErrorAsync("fail_post", []);
        await client.CallErrorAsync("fail_get", []);

        // retries: 1, so the GET is tried twice.
        Assert.Equal((before.Item1 + 1, before.Item2 + 2), (Hits("/v1/fail/post"), Hits("/v1/fail/get")));

        int Hits(string target) => server.Upstream.Requests.Count(r => r.Target == target);
    }
}
