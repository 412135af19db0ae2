using System.Text.Json;
using Tributary.Core.Configuration;
using Tributary.Server.Hosting;
using Tributary.Testing;

namespace Tributary.Core.Tests.Configuration;

/// <summary>Named tools over <c>http</c> sources in <c>tributary.yaml</c>: their shape, and every way to get them wrong.</summary>
public sealed class HttpToolConfigTests
{
    private static readonly string Database = DemoDatabase.Copy();

    private static TributaryConfig Load(string tools) => new ConfigLoader(SourceProviders.All).Load(
        $$"""
        sources:
          shop: { kind: sqlite, path: {{Database}} }
          github: { kind: http, base_url: "https://api.github.com" }
        tools:
        {{tools}}
        """,
        "/");

    [Fact]
    public void Database_settings_on_an_http_source_are_refused()
    {
        var error = Assert.Throws<ConfigException>(() => new ConfigLoader(SourceProviders.All).Load(
            """
            sources:
              api:
                kind: http
                base_url: "https://api.example.com"
                statement_timeout: 5s
                max_rows: 10
                max_rows_limit: 100
                writable: true
                tables: { orders: {} }
                capture: { orders: { topic: orders } }
                max_result_bytes: 65536
                batch_concurrency: 2
            topics: { orders: {} }
            """,
            "/"));

        Assert.Equal(
            ["statement_timeout", "max_rows", "max_rows_limit", "writable", "tables", "capture"],
            error.Errors.Select(e => e.Path["sources.api.".Length..]));
        Assert.All(error.Errors, e => Assert.Contains("is a database setting, and a source of kind http has no tables or statements: remove it", e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void A_tool_over_an_http_source_is_a_call_with_its_parameters_placed()
    {
        var tools = Load(
            """
              open_issues:
                source: github
                path: /repos/{owner}/{repo}/issues
                query: { state: state, per_page: limit }
                pointer: /items
                parameters:
                  owner: { type: string, required: true }
                  repo: { type: string, required: true }
                  state: { type: string, enum: [open, closed], default: open }
                  limit: { type: integer, maximum: 100 }
              add_label:
                source: github
                method: post
                path: /repos/{repo}/labels
                body: [name, color]
                destructive: false
                parameters:
                  repo: { type: string, default: tributary }
                  name: { type: string, required: true }
                  color: { type: string }
            """).Tools;

        var get = tools[0].Http!;
        Assert.Equal(("GET", "/repos/{owner}/{repo}/issues", "/items"), (get.Method, get.Path.Text, get.Projection!.Text));
        Assert.Equal([new ParameterMapping("state", "state"), new ParameterMapping("per_page", "limit")], get.Query);
        Assert.Equal(["owner", "repo"], get.Path.Names);
        var post = tools[1].Http!;
        Assert.Equal(("POST", true), (post.Method, post.HasBody));
        Assert.Equal([new ParameterMapping("name", "name"), new ParameterMapping("color", "color")], post.Body);
        Assert.False(tools[1].Destructive);
        Assert.Equal("", tools[1].Statement);
    }

    [Theory]
    [InlineData("source: github\n    statement: SELECT 1", "tools.t.statement", "source 'github' is an HTTP API: a tool over it makes a call, with method and path")]
    [InlineData("source: shop\n    path: /x", "tools.t.path", "source 'shop' is a database (sqlite): a tool over it runs a statement")]
    [InlineData("source: github\n    path: /x\n    statement: SELECT 1", "tools.t.statement", "not both")]
    [InlineData("source: github", "tools.t.statement", "missing: give one SQL statement, with parameters written @name (over an http source: method and path instead)")]
    [InlineData("source: github\n    method: GET", "tools.t.path", "missing: give the path under the source's base URL")]
    [InlineData("source: github\n    method: TRACE\n    path: /x", "tools.t.method", "'TRACE' is not a method a tool may use: GET, POST, PUT, PATCH, DELETE")]
    [InlineData("source: github\n    path: repos/{id}\n    parameters: { id: { required: true } }", "tools.t.path", "must start with a single '/'")]
    [InlineData("source: github\n    path: /search?q={q}\n    parameters: { q: { required: true } }", "tools.t.path", "may not hold '?'")]
    [InlineData("source: github\n    path: /a/../admin", "tools.t.path", "may not have '.' or '..' segments")]
    [InlineData("source: github\n    path: /a/{id\n    parameters: { id: { required: true } }", "tools.t.path", "'{id' is not a segment with {name} placeholders")]
    [InlineData("source: github\n    path: /a/{x}{y}\n    parameters: { x: { required: true }, y: { required: true } }", "tools.t.path", "two placeholders side by side")]
    [InlineData("source: github\n    path: /repos/{owner}", "tools.t.path", "uses 'owner', which is not a declared parameter")]
    [InlineData("source: github\n    path: /x\n    query: [state]", "tools.t.query", "uses 'state', which is not a declared parameter")]
    [InlineData("source: github\n    path: /repos/{id}\n    query: [id]\n    parameters: { id: { required: true } }", "tools.t.parameters.id", "is sent more than once (path, query)")]
    [InlineData("source: github\n    method: POST\n    path: /x\n    query: [a]\n    body: { a: a }\n    parameters: { a: {} }", "tools.t.parameters.a", "is sent more than once (query, body)")]
    [InlineData("source: github\n    path: /x\n    parameters: { lost: {} }", "tools.t.parameters.lost", "declared but never sent")]
    [InlineData("source: github\n    path: /x/{id}\n    parameters: { id: { type: integer } }", "tools.t.parameters.id", "is part of the path, so it always needs a value")]
    [InlineData("source: github\n    path: /x\n    body: [a]\n    parameters: { a: {} }", "tools.t.body", "a GET sends no body (only POST, PUT and PATCH do)")]
    [InlineData("source: github\n    method: DELETE\n    path: /x\n    body: [a]\n    parameters: { a: {} }", "tools.t.body", "a DELETE sends no body")]
    [InlineData("source: github\n    path: /x\n    query: a", "tools.t.query", "must be a list of parameters")]
    [InlineData("source: github\n    path: /x\n    pointer: items", "tools.t.pointer", "'items' is not a JSON pointer: a JSON pointer starts with '/'")]
    [InlineData("source: github\n    path: /x\n    pointer: /a~2b", "tools.t.pointer", "must be followed by 0 (for '~') or 1 (for '/')")]
    public void A_bad_http_tool_is_refused_at_start_up_naming_the_key(string tool, string path, string message)
    {
        var error = Assert.Throws<ConfigException>(() => Load($"  t:\n    {tool}\n"));
        Assert.Contains(error.Errors, e => e.Path == path && e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("fetch")]
    [InlineData("batch_query")]
    public void A_named_tool_may_not_take_a_built_in_tools_name(string name)
    {
        var error = Assert.Throws<ConfigException>(() => Load($"  {name}:\n    source: github\n    path: /x\n"));
        Assert.Contains(error.Errors, e => e.Path == $"tools.{name}" && e.Message.Contains("one of Tributary's own tools", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("a/b", "/repos/a%2Fb/issues")]
    [InlineData("?x=1", "/repos/%3Fx%3D1/issues")]
    [InlineData("%2e%2e", "/repos/%252e%252e/issues")]
    [InlineData("x#y", "/repos/x%23y/issues")]
    [InlineData("näme ok", "/repos/n%C3%A4me%20ok/issues")]
    [InlineData("...", "/repos/.../issues")]
    public void A_path_value_stays_one_escaped_segment(string value, string expected) =>
        Assert.Equal(expected, PathTemplate.Parse("/repos/{repo}/issues", out _)!.Expand(_ => value));

    [Theory]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("")]
    public void A_path_value_that_would_leave_its_segment_is_a_tool_error(string value)
    {
        var error = Assert.Throws<ToolException>(() => PathTemplate.Parse("/repos/{repo}/issues", out _)!.Expand(_ => value));
        Assert.Contains("'repo' may not be empty, '.' or '..'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/items", "[1,2]")]
    [InlineData("/items/1", "2")]
    [InlineData("/a~1b/c~0d", "true")]
    [InlineData("/", "\"empty name\"")]
    public void A_pointer_finds_what_rfc_6901_says(string text, string expected)
    {
        var document = JsonElement.Parse("""{"items":[1,2],"a/b":{"c~d":true},"":"empty name"}""");
        Assert.True(JsonPointer.Parse(text, out _)!.TryFind(document, out var found));
        Assert.Equal(expected, found.GetRawText());
    }

    [Theory]
    [InlineData("/missing")]
    [InlineData("/items/2")]
    [InlineData("/items/01")]
    [InlineData("/items/-")]
    [InlineData("/items/0/deeper")]
    public void A_pointer_that_names_nothing_finds_nothing(string text) =>
        Assert.False(JsonPointer.Parse(text, out _)!.TryFind(JsonElement.Parse("""{"items":[1,2]}"""), out _));
}
