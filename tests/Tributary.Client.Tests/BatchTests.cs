using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Server;
using Tributary.Core.Configuration;
using Tributary.Server.Hosting;
using Tributary.Server.Http;
using Tributary.Testing;

namespace Tributary.Client.Tests;

public sealed class BatchTests
{
    private const string BatchCalls = "tributary.batch_query.calls";
    private const string BatchItems = "tributary.batch_query.items";

    [Fact]
    public async Task BatchQueryAsync_returns_each_items_result_or_error_in_order()
    {
        await using var server = new ClientServer();
        await server.InitializeAsync();
        await using var client = await TributaryClient.ConnectAsync(server.Options(server.CreateKey("batch")));

        var results = await client.BatchQueryAsync(
        [
            new BatchQuery("shop", "SELECT id, status FROM orders WHERE id = @id", Parameters(("id", 5))),
            new BatchQuery("shop", "SELECT * FROM nope"),
            new BatchToolCall("nope"),
            new BatchQuery("shop", "SELECT id FROM orders ORDER BY id", MaxRows: 2),
        ]);

        Assert.Equal(4, results.Count);
        Assert.Equal(5, results[0].Rows().Single()["id"].GetInt64());
        Assert.False(results[1].Succeeded);
        Assert.Contains("no such table: nope", results[1].Error, StringComparison.Ordinal);
        var thrown = Assert.Throws<TributaryToolException>(() => results[1].Rows());
        Assert.Equal(results[1].Error, thrown.ToolMessage);
        Assert.Contains("unknown tool 'nope'", results[2].Error, StringComparison.Ordinal);
        Assert.Equal([1L, 2], results[3].Rows().Select(r => r["id"].GetInt64()));
        Assert.True(results[3].Result.GetProperty("truncated").GetBoolean());

        var tooMany = await Assert.ThrowsAsync<TributaryToolException>(() => client.BatchQueryAsync([.. Enumerable.Range(0, 101).Select(_ => new BatchQuery("shop", "SELECT 1"))]));
        Assert.Contains("at most 100 items (got 101)", tooMany.ToolMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_queries_are_coalesced_into_few_batch_calls_and_each_caller_gets_its_own_rows_or_error()
    {
        await using var server = new ClientServer();
        await server.InitializeAsync();
        using var meters = new ServerMeters(server.Services);
        // A long window, so that grouping does not depend on how fast this machine starts the queries: full groups go at once.
        await using var client = await TributaryClient.ConnectAsync(server.Options(server.CreateKey("coalesced")) with
        {
            Coalescing = new QueryCoalescing { Window = TimeSpan.FromSeconds(2), MaxItems = 25 },
        });

        var queries = Enumerable.Range(1, 100).Select(id => Task.Run(async () =>
        {
            // Every tenth caller sends a query that fails: only that caller may see its error.
            var sql = id % 10 == 0 ? $"SELECT id FROM missing_{id}" : "SELECT id, customer_id FROM orders WHERE id = @id";
            try
            {
                var rows = await client.QueryAsync("shop", sql, Parameters(("id", id))).ToListAsync();
                return (Id: id, Rows: rows, Error: (string?)null);
            }
            catch (TributaryToolException e)
            {
                return (Id: id, Rows: (List<QueryRow>?)null, Error: e.ToolMessage);
            }
        })).ToArray();
        var answers = await Task.WhenAll(queries);

        foreach (var (id, rows, error) in answers)
        {
            if (id % 10 == 0)
            {
                Assert.Null(rows);
                Assert.Equal($"no such table: missing_{id}: call describe_schema on source 'shop' for its tables", error);
            }
            else
            {
                Assert.Null(error);
                Assert.Equal(id, Assert.Single(rows!)["id"].GetInt64());
            }
        }

        Assert.Equal(4, meters.Sum(BatchCalls));
        Assert.Equal(90, meters.Sum(BatchItems, "outcome=ok"));
        Assert.Equal(10, meters.Sum(BatchItems, "outcome=error"));
    }

    [Fact]
    public async Task Without_batch_query_on_the_server_coalesced_queries_go_one_by_one_and_BatchQueryAsync_says_why_it_cannot()
    {
        await using var server = await OlderTributary.StartAsync();
        using var meters = new ServerMeters(server.App.Services);
        await using var client = await TributaryClient.ConnectAsync(new TributaryClientOptions { Endpoint = server.Endpoint, Coalescing = new QueryCoalescing() });

        var answers = await Task.WhenAll(Enumerable.Range(1, 20).Select(id => Task.Run(async () => await client.QueryAsync("shop", "SELECT id FROM orders WHERE id = @id", Parameters(("id", id))).SingleAsync())));

        Assert.Equal(Enumerable.Range(1, 20), answers.Select(r => (int)r["id"].GetInt64()));
        Assert.Equal(0, meters.Sum(BatchCalls));
        var refused = await Assert.ThrowsAsync<NotSupportedException>(() => client.BatchQueryAsync([new BatchQuery("shop", "SELECT 1")]));
        Assert.Contains("does not offer batch_query", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Coalescing_settings_out_of_range_are_refused_before_connecting()
    {
        var options = new TributaryClientOptions { Endpoint = new Uri("http://127.0.0.1:1/mcp") };
        Assert.Contains("MaxItems", Assert.Throws<ArgumentException>(() => (options with { Coalescing = new QueryCoalescing { MaxItems = 101 } }).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("Window", Assert.Throws<ArgumentException>(() => (options with { Coalescing = new QueryCoalescing { Window = TimeSpan.Zero } }).Validate()).Message, StringComparison.Ordinal);
    }

    private static Dictionary<string, JsonElement> Parameters(params (string Name, long Value)[] values) =>
        values.ToDictionary(v => v.Name, v => JsonSerializer.SerializeToElement(v.Value));
}

/// <summary>Tributary's MCP surface over HTTP on the demo data as a Tributary from before <c>batch_query</c> served it: the tool taken out of its list.</summary>
internal sealed class OlderTributary : IAsyncDisposable
{
    private OlderTributary(WebApplication app, Uri endpoint)
    {
        App = app;
        Endpoint = endpoint;
    }

    public WebApplication App { get; }

    public Uri Endpoint { get; }

    public static async Task<OlderTributary> StartAsync()
    {
        var config = new TributaryConfig
        {
            Server = new ServerConfig { DataDir = TestPaths.NewTempDirectory() },
            Sources = [new SourceConfig { Name = "shop", Kind = "sqlite", Settings = new Dictionary<string, string> { ["path"] = DemoDatabase.Copy() } }],
        };
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Services.AddTributaryMcpServer(config).WithTributaryHttpTransport();
        builder.Services.PostConfigure<McpServerOptions>(options =>
        {
            if (options.ToolCollection?.FirstOrDefault(t => t.ProtocolTool.Name == "batch_query") is { } batch)
            {
                options.ToolCollection.Remove(batch);
            }
        });
        var app = builder.Build();
        app.MapTributaryHttp(HttpSafetyOptions.From(config.Server));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new OlderTributary(app, new Uri(new Uri(address), "/mcp"));
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
