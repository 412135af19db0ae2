using ModelContextProtocol.Client;
using Tributary.Testing;

namespace Tributary.Cli.Tests;

public sealed class ServeCommandTests
{
    [Theory]
    [InlineData("0.0.0.0:0")]
    [InlineData("192.168.1.10:8080")]
    public async Task Refuses_a_non_loopback_address(string address)
    {
        using var process = TributaryProcess.Start(TestPaths.NewTempDirectory(), null, "serve", "--http", address);

        Assert.Equal(2, await process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("is not a loopback address", process.StandardError, StringComparison.Ordinal);
        Assert.Contains("bind 127.0.0.1", process.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_port_in_use_is_a_clear_error()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;

        using var process = TributaryProcess.Start(TestPaths.NewTempDirectory(), null, "serve", "--http", $"127.0.0.1:{port}", "--data-dir", DemoDatabase.DataDirectory());

        Assert.Equal(1, await process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains($"cannot listen on 127.0.0.1:{port}", process.StandardError, StringComparison.Ordinal);
        Assert.Contains("pick another with --http", process.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_mode_builds_its_database_in_the_data_directory_from_the_environment_and_prints_how_to_connect()
    {
        var work = TestPaths.NewTempDirectory();
        var dataDir = Path.Combine(work, "state");
        using var process = TributaryProcess.Start(work, new Dictionary<string, string> { ["TRIBUTARY_DATA_DIR"] = dataDir }, "serve", "--http", "127.0.0.1:0");

        var endpoint = await process.WaitForEndpointAsync(TimeSpan.FromSeconds(60));

        Assert.True(File.Exists(Path.Combine(dataDir, "demo-shop.db")));
        Assert.Equal("127.0.0.1", endpoint.Host);
        Assert.Contains($"claude mcp add --transport http tributary {endpoint}", process.StandardError, StringComparison.Ordinal);
        Assert.Contains("serve --stdio --data-dir " + dataDir, process.StandardError, StringComparison.Ordinal);
        Assert.Empty(process.StandardOutput);
        await using var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = endpoint }));
        var result = await client.CallToolAsync("query", new Dictionary<string, object?> { ["source"] = "shop", ["sql"] = "SELECT count(*) FROM orders" });
        Assert.True(result.IsError is not true);
    }

    [Fact]
    public async Task Logs_go_to_stderr_as_json_and_never_carry_secrets()
    {
        const string Secret = "hunter2-cursor-secret-5f1c";
        var database = DemoDatabase.Copy();
        var dir = TestPaths.NewTempDirectory();
        await File.WriteAllTextAsync(Path.Combine(dir, "tributary.yaml"), $"""
            server:
              cursor_secret: ${"{"}TRIBUTARY_TEST_SECRET{"}"}
            sources:
              shop:
                kind: sqlite
                path: {database}
            """);
        using var process = TributaryProcess.Start(
            dir,
            new Dictionary<string, string> { ["TRIBUTARY_TEST_SECRET"] = Secret },
            "serve", "--http", "127.0.0.1:0", "--log-level", "Trace");
        var endpoint = await process.WaitForEndpointAsync(TimeSpan.FromSeconds(60));

        await using (var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = endpoint })))
        {
            await client.CallToolAsync("query", new Dictionary<string, object?> { ["source"] = "shop", ["sql"] = "SELECT id FROM orders", ["max_rows"] = 1 });
            await client.CallToolAsync("query", new Dictionary<string, object?> { ["source"] = "shop", ["sql"] = "DELETE FROM orders" });
        }

        using var http = new HttpClient();
        using var evil = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent("{}") };
        evil.Headers.Add("Origin", "http://evil.example");
        using var rejected = await http.SendAsync(evil);
        // The log line is written by the console logger's own thread: wait for it rather than a fixed time.
        for (var attempt = 0; attempt < 200 && !process.StandardError.Contains("\"EventId\":2001", StringComparison.Ordinal); attempt++)
        {
            await Task.Delay(50);
        }

        Assert.Contains("\"EventId\":2001", process.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, process.StandardError, StringComparison.Ordinal);
        Assert.Empty(process.StandardOutput);
    }
}
