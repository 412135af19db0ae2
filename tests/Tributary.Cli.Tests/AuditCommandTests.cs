using System.Text.Json;
using ModelContextProtocol.Client;
using Tributary.Testing;

namespace Tributary.Cli.Tests;

public sealed class AuditCommandTests
{
    [Fact]
    public async Task Lists_the_writes_a_real_server_made()
    {
        var dataDir = DemoDatabase.DataDirectory();
        var transport = new StdioClientTransport(new StdioClientTransportOptions
        {
            Command = TestPaths.DotnetHost,
            Arguments = [TestPaths.CliDll, "serve", "--stdio", "--data-dir", dataDir],
            ShutdownTimeout = TimeSpan.FromSeconds(10),
        });
        await using (var client = await McpClient.CreateAsync(transport))
        {
            var result = await client.CallToolAsync("update_rows", new Dictionary<string, object?>
            {
                ["source"] = "shop", ["table"] = "orders", ["key"] = new { id = 7 }, ["set"] = new { status = "shipped" }, ["expected_version"] = 1,
            });
            Assert.True(result.IsError is not true);
        }

        using var json = TributaryProcess.Start(TestPaths.NewTempDirectory(), null, "audit", "--data-dir", dataDir, "--json");
        Assert.Equal(0, await json.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var entry = Assert.Single(JsonDocument.Parse(json.StandardOutput).RootElement.GetProperty("entries").EnumerateArray().ToList());
        Assert.Equal("update_rows", entry.GetProperty("tool").GetString());
        Assert.Equal("orders", entry.GetProperty("table").GetString());
        Assert.Equal("{\"id\":7}", entry.GetProperty("key").GetString());

        using var table = TributaryProcess.Start(TestPaths.NewTempDirectory(), null, "audit", "--data-dir", dataDir);
        Assert.Equal(0, await table.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("shop.orders", table.StandardOutput, StringComparison.Ordinal);

        using var empty = TributaryProcess.Start(TestPaths.NewTempDirectory(), null, "audit", "--data-dir", TestPaths.NewTempDirectory());
        Assert.Equal(0, await empty.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("no writes recorded yet", empty.StandardError, StringComparison.Ordinal);
    }
}
