using Tributary.Core.Configuration;
using Tributary.Testing;

namespace Tributary.Server.Tests.Mcp;

/// <summary>Tributary serving a working SQLite source next to a PostgreSQL source whose server is not there.</summary>
public sealed class HalfDownServer : TributaryHttpServer
{
    protected override async Task<TributaryConfig> CreateConfigAsync()
    {
        var config = await base.CreateConfigAsync();
        return config with
        {
            Sources =
            [
                .. config.Sources,
                new SourceConfig { Name = "down", Kind = "postgres", Settings = new Dictionary<string, string> { ["connection_string"] = "Host=127.0.0.1;Port=1;Username=x;Password=never-shown-4f2a;Timeout=2" } },
            ],
        };
    }
}

public sealed class UnreachableSourceTests(HalfDownServer server) : IClassFixture<HalfDownServer>
{
    [Fact]
    public async Task Readiness_names_the_source_that_does_not_answer_and_health_stays_ok()
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        using var ready = await http.GetAsync("/readyz");
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var text = await ready.Content.ReadAsStringAsync();
        Assert.Equal("not ready: 1 of 2 sources do not answer (down)", text);
        Assert.Equal("ok", await http.GetStringAsync("/healthz"));
        Assert.Contains(server.Logs.Lines, l => l.Contains("/readyz: source down did not answer", StringComparison.Ordinal));
        Assert.DoesNotContain(server.Logs.Lines, l => l.Contains("never-shown", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_source_that_cannot_be_reached_is_listed_with_the_reason_and_the_others_still_serve()
    {
        await using var client = await server.ConnectAsync();
        var sources = (await client.CallOkAsync("list_sources")).GetProperty("sources");
        Assert.True(sources[0].GetProperty("table_count").GetInt64() > 0);
        var down = sources[1];
        Assert.Equal(System.Text.Json.JsonValueKind.Null, down.GetProperty("table_count").ValueKind);
        Assert.Contains("unreachable", down.GetProperty("error").GetString(), StringComparison.Ordinal);

        var query = await client.CallErrorAsync("query", new() { ["source"] = "down", ["sql"] = "SELECT 1" });
        Assert.Contains("source 'down' is unreachable right now", query, StringComparison.Ordinal);
        Assert.DoesNotContain("never-shown", query, StringComparison.Ordinal);
        var ok = await client.CallOkAsync("query", new() { ["source"] = "shop", ["sql"] = "SELECT count(*) FROM customers" });
        Assert.Equal(5000, ok.GetProperty("rows")[0][0].GetInt32());
    }
}
