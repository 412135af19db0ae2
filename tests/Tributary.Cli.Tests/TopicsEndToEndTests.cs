using System.Text.Json;
using ModelContextProtocol.Client;
using Tributary.Testing;

namespace Tributary.Cli.Tests;

public sealed class TopicsEndToEndTests
{
    [Fact]
    public async Task Events_survive_a_restart_of_tributary_and_resume_from_a_cursor_exactly_once()
    {
        var dataDir = DemoDatabase.DataDirectory();
        var published = new List<long>();
        await using (var first = await StartAsync(dataDir))
        {
            for (var i = 0; i < 20; i++)
            {
                var result = await first.CallToolAsync("publish_event", new Dictionary<string, object?> { ["topic"] = "orders", ["type"] = "e2e.test", ["data"] = new { n = i } });
                published.Add(((JsonElement)result.StructuredContent!).GetProperty("sequence").GetInt64());
            }
        }

        // Another process appends while no server runs.
        using var cli = TributaryProcess.Start(TestPaths.NewTempDirectory(), null, "publish", "--data-dir", dataDir, "--topic", "orders", "--type", "e2e.test", "--data", """{"n":20}""", "--severity", "warning");
        Assert.Equal(0, await cli.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        published.Add(JsonDocument.Parse(cli.StandardOutput).RootElement.GetProperty("sequence").GetInt64());

        await using var second = await StartAsync(dataDir);
        // The demo's activity simulator publishes too; the filter keeps this test's events.
        var seen = new List<long>();
        long? cursor = published[9];
        while (true)
        {
            var result = await second.CallToolAsync("read_events", new Dictionary<string, object?> { ["topic"] = "orders", ["after"] = cursor, ["limit"] = 4, ["filter"] = new { types = new[] { "e2e.test" } } });
            var page = (JsonElement)result.StructuredContent!;
            var events = page.GetProperty("events").EnumerateArray().ToList();
            if (events.Count == 0)
            {
                break;
            }

            seen.AddRange(events.Select(e => e.GetProperty("seq").GetInt64()));
            cursor = page.GetProperty("cursor").GetInt64();
        }

        Assert.Equal(published.Skip(10), seen);
    }

    [Fact]
    public async Task The_demo_topics_are_live_out_of_the_box()
    {
        await using var client = await StartAsync(DemoDatabase.DataDirectory());
        foreach (var topic in new[] { "orders", "logs" })
        {
            var read = await client.CallToolAsync("read_events", new Dictionary<string, object?> { ["topic"] = topic, ["after"] = 0, ["wait_ms"] = 20_000, ["limit"] = 1 });
            var e = ((JsonElement)read.StructuredContent!).GetProperty("events")[0];
            Assert.Equal("demo", e.GetProperty("source").GetString());
            Assert.False(string.IsNullOrEmpty(e.GetProperty("data").GetProperty("message").GetString()));
        }
    }

    [Theory]
    [InlineData("nope", """{"n":1}""", 1, "unknown topic 'nope'")]
    [InlineData("orders", "{not json", 2, "--data is not JSON")]
    public async Task Publish_refuses_bad_input_with_its_exit_code(string topic, string data, int exit, string message)
    {
        using var cli = TributaryProcess.Start(TestPaths.NewTempDirectory(), null, "publish", "--data-dir", DemoDatabase.DataDirectory(), "--topic", topic, "--type", "x", "--data", data);
        Assert.Equal(exit, await cli.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains(message, cli.StandardError, StringComparison.Ordinal);
    }

    private static Task<McpClient> StartAsync(string dataDir) => McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
    {
        Command = TestPaths.DotnetHost,
        Arguments = [TestPaths.CliDll, "serve", "--stdio", "--data-dir", dataDir],
        ShutdownTimeout = TimeSpan.FromSeconds(10),
    }));
}
