using System.Text.Json;
using Tributary.Core.Configuration;
using Tributary.Server.Mcp;
using Tributary.Testing;

namespace Tributary.Server.Tests.Mcp;

/// <summary>
/// Tributary with a SQLite source and two <c>http</c> sources on one loopback API that counts the requests it is
/// answering at the same moment: <c>tracker</c> (2 items of a batch at once, answers cached) and <c>live</c> (never
/// cached, its last good answer served while the API fails).
/// </summary>
public sealed class HttpBatchServer : TributaryHttpServer
{
    private int _running;
    private int _peak;
    private int _health;

    public HttpBatchServer() => Upstream = DisposedWithServer(new RecordingUpstream(AnswerAsync));

    public RecordingUpstream Upstream { get; }

    /// <summary>The most requests to <c>/v1/slow/...</c> the API was answering at once.</summary>
    public int PeakSlowRequests => Volatile.Read(ref _peak);

    protected override Task<TributaryConfig> CreateConfigAsync() => FromYaml($$"""
        sources:
          shop: { kind: sqlite, path: {{DatabasePath}} }
          tracker:
            kind: http
            base_url: {{Upstream.Url("/v1")}}
            allowed_ranges: [127.0.0.1/32]
            batch_concurrency: 2
            cache_ttl: 1h
            retries: 0
            max_result_bytes: 4096
          live:
            kind: http
            base_url: {{Upstream.Url("/v1")}}
            allowed_ranges: [127.0.0.1/32]
            retries: 0
        tools:
          issue:
            source: tracker
            path: /issues/{id}
            parameters:
              id: { type: integer, minimum: 1, required: true }
          slow:
            source: tracker
            path: /slow/{n}
            parameters:
              n: { type: integer, required: true }
          broken:
            source: tracker
            path: /broken
          big:
            source: tracker
            path: /big
          health:
            source: live
            path: /health
          open_ticket:
            source: tracker
            method: POST
            path: /tickets
            body: [title]
            parameters:
              title: { type: string, required: true }
          reopen_issue:
            source: tracker
            method: PATCH
            path: /issues/{id}
            body: { state: state }
            parameters:
              id: { type: integer, minimum: 1, required: true }
              state: { type: string, default: open }
        """);

    private async Task<(int Status, string ContentType, string Body)> AnswerAsync(RecordedRequest request, CancellationToken stop)
    {
        if (request.Target.StartsWith("/v1/slow/", StringComparison.Ordinal))
        {
            var running = Interlocked.Increment(ref _running);
            InterlockedMax(ref _peak, running);
            try
            {
                // Held until two overlap (a bounded wait, should they never), then a little longer, so that a third
                // request let through by a broken bound would be counted beside them.
                for (var i = 0; i < 500 && Volatile.Read(ref _peak) < 2; i++)
                {
                    await Task.Delay(10, stop);
                }

                await Task.Delay(50, stop);
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }

        return request.Target switch
        {
            "/v1/broken" => (500, "text/plain", "database on fire"),
            // Good once, then failing: the API's outage.
            "/v1/health" => (Interlocked.Increment(ref _health) == 1 ? 200 : 503, "application/json", """{"status":"green"}"""),
            "/v1/big" => (200, "text/plain", new string('x', 8192)),
            var target => (200, "application/json", JsonSerializer.Serialize(new Dictionary<string, string> { ["path"] = target })),
        };
    }

    private static void InterlockedMax(ref int location, int value)
    {
        for (var seen = Volatile.Read(ref location); seen < value; seen = Volatile.Read(ref location))
        {
            if (Interlocked.CompareExchange(ref location, value, seen) == seen)
            {
                return;
            }
        }
    }
}

public sealed class HttpBatchQueryTests(HttpBatchServer server) : IClassFixture<HttpBatchServer>
{
    [Fact]
    public async Task A_get_tool_item_answers_as_its_single_call_does_beside_sql_and_failing_items()
    {
        await using var client = await server.ConnectAsync();
        var single = await client.CallOkAsync("issue", new() { ["id"] = 7 });
        Assert.Equal("miss", single.GetProperty("cache").GetString());
        var items = new object[]
        {
            new { source = "shop", sql = "SELECT count(*) AS n FROM customers" },
            new { tool = "issue", @params = new { id = 7 } },
            new { tool = "broken" },
            new { tool = "big" },
            new { tool = "issue", @params = new { id = 0 } },
        };

        var batch = await client.CallOkAsync(BatchQueryTool.ToolName, new() { ["items"] = items });

        var results = batch.GetProperty("results").EnumerateArray().ToList();
        Assert.True(results[0].GetProperty("result").GetProperty("rows")[0][0].GetInt64() > 0);
        // The source's cache answers the item as it would answer the call again.
        var item = results[1].GetProperty("result");
        Assert.Equal(("tracker", 200, "hit", "/v1/issues/7"), (item.GetProperty("source").GetString(), item.GetProperty("status").GetInt32(), item.GetProperty("cache").GetString(), item.GetProperty("body").GetProperty("path").GetString()));
        foreach (var (index, tool, arguments) in new[] { (2, "broken", new Dictionary<string, object?>()), (3, "big", []), (4, "issue", new() { ["id"] = 0 }) })
        {
            var error = await client.CallErrorAsync(tool, arguments);
            Assert.StartsWith(results[index].GetProperty("error").GetString()!, error, StringComparison.Ordinal);
        }

        Assert.Contains("tracker answered HTTP 500: database on fire", results[2].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("over the source's max_result_bytes of 4096", results[3].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("'id' must be at least 1", results[4].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal((2, 3), (batch.GetProperty("succeeded").GetInt32(), batch.GetProperty("failed").GetInt32()));
        Assert.Single(server.Upstream.Requests, r => r.Target == "/v1/issues/7");
    }

    [Fact]
    public async Task A_get_tool_item_gets_the_last_good_answer_marked_stale_while_the_api_fails()
    {
        await using var client = await server.ConnectAsync();
        Assert.Equal("miss", (await client.CallOkAsync("health")).GetProperty("cache").GetString());

        var batch = await client.CallOkAsync(BatchQueryTool.ToolName, new() { ["items"] = new[] { new { tool = "health" } } });

        var result = batch.GetProperty("results")[0].GetProperty("result");
        Assert.Equal(("stale", true, true, "green"), (result.GetProperty("cache").GetString(), result.GetProperty("stale").GetBoolean(), result.GetProperty("degraded").GetBoolean(), result.GetProperty("body").GetProperty("status").GetString()));
        Assert.Equal(2, server.Upstream.Requests.Count(r => r.Target == "/v1/health"));
    }

    [Fact]
    public async Task The_api_sees_no_more_of_a_batchs_items_at_once_than_its_sources_batch_concurrency()
    {
        using var meters = new ServerMeters(server.Services);
        await using var client = await server.ConnectAsync();
        var items = Enumerable.Range(1, 8).Select(n => new { tool = "slow", @params = new { n } }).ToArray();

        var batch = await client.CallOkAsync(BatchQueryTool.ToolName, new() { ["items"] = items });

        Assert.Equal(8, batch.GetProperty("succeeded").GetInt32());
        Assert.Equal(Enumerable.Range(1, 8).Select(n => $"/v1/slow/{n}"), batch.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("result").GetProperty("body").GetProperty("path").GetString()));
        Assert.Equal(2, server.PeakSlowRequests);
        Assert.Equal(2, meters.Peak("tributary.batch_query.items_in_flight", "source=tracker"));
    }

    [Theory]
    [InlineData("open_ticket", """{"title":"Printer on fire"}""", "POST")]
    [InlineData("reopen_issue", """{"id":4}""", "PATCH")]
    public async Task A_tool_that_changes_the_api_is_refused_as_an_item_while_the_others_answer(string tool, string arguments, string method)
    {
        await using var client = await server.ConnectAsync();
        var item = $$"""{"tool":"{{tool}}","params":{{arguments}}}""";

        var batch = await client.CallOkAsync(BatchQueryTool.ToolName, new() { ["items"] = JsonSerializer.Deserialize<JsonElement>($$$"""[{"tool":"issue","params":{"id":3}}, {{{item}}}, {"source":"shop","sql":"SELECT 1 AS one"}]""") });

        var results = batch.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal("/v1/issues/3", results[0].GetProperty("result").GetProperty("body").GetProperty("path").GetString());
        Assert.Equal(
            $"'{tool}' calls its API with {method}, and batch_query only reads (GET tools; call it on its own): a tool item names a configured read tool (big, broken, health, issue, slow); for SQL, give source and sql instead",
            results[1].GetProperty("error").GetString());
        Assert.Equal(1, results[2].GetProperty("result").GetProperty("rows")[0][0].GetInt32());
        Assert.DoesNotContain(server.Upstream.Requests, r => r.Method == method);
    }
}
