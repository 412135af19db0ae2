using System.Text.Json;
using System.Text.RegularExpressions;
using ModelContextProtocol.Client;
using Tributary.Testing;

namespace Tributary.Cli.Tests;

/// <summary>The client commands of the real <c>tributary</c> against a real server: output for scripts, exit codes, transports, following a topic.</summary>
public sealed class ClientCommandsTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Commands_print_json_for_scripts_and_exit_with_the_documented_codes()
    {
        var directory = TestPaths.NewTempDirectory();
        var dataDir = DemoDatabase.DataDirectory();
        using var server = TributaryProcess.Start(directory, null, "serve", "--http", "127.0.0.1:0", "--data-dir", dataDir);
        var url = (await server.WaitForEndpointAsync(Patience)).ToString();

        var sources = await RunAsync(directory, 0, "sources", "--url", url, "--json");
        Assert.Equal("shop", JsonDocument.Parse(sources.Output).RootElement.GetProperty("sources")[0].GetProperty("name").GetString());

        var rows = await RunAsync(directory, 0, "query", "shop", "SELECT id FROM orders WHERE id <= @last ORDER BY id", "--params", """{"last":5}""", "--max-rows", "2", "--url", url, "--json");
        Assert.Equal([1, 2, 3, 4, 5], rows.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.GetProperty("id").GetInt32()));

        var table = await RunAsync(directory, 0, "query", "shop", "SELECT id, status FROM orders WHERE id = 1", "--url", url);
        Assert.Contains("status", table.Output, StringComparison.Ordinal);

        var called = await RunAsync(directory, 0, "call", "describe_schema", "--args", """{"source":"shop","table":"customers"}""", "--url", url, "--json");
        Assert.Contains("customers", called.Output, StringComparison.Ordinal);

        var published = await RunAsync(directory, 0, "publish", "--topic", "orders", "--type", "cli.check", "--data", """{"ok":true}""", "--url", url);
        var sequence = JsonDocument.Parse(published.Output).RootElement.GetProperty("sequence").GetInt64();
        var events = await RunAsync(directory, 0, "events", "orders", "--after", (sequence - 1).ToString(System.Globalization.CultureInfo.InvariantCulture), "--url", url, "--json");
        Assert.Equal("cli.check", JsonDocument.Parse(events.Output).RootElement.GetProperty("events")[0].GetProperty("type").GetString());

        var toolError = await RunAsync(directory, 1, "query", "shop", "DELETE FROM orders", "--url", url);
        Assert.Contains("read-only", toolError.Error, StringComparison.Ordinal);

        var badJson = await RunAsync(directory, 2, "call", "query", "--args", "{not json", "--url", url);
        Assert.Contains("--args is not JSON", badJson.Error, StringComparison.Ordinal);
        var noTarget = await RunAsync(directory, 2, "sources");
        Assert.Contains("say which server", noTarget.Error, StringComparison.Ordinal);
        var unreachable = await RunAsync(directory, 3, "sources", "--url", $"http://127.0.0.1:{TestPaths.FreePort()}/mcp", "--timeout", "2");
        Assert.Contains("cannot connect", unreachable.Error, StringComparison.Ordinal);

        var overWebSocket = await RunAsync(directory, 0, "read", "tributary://sources/shop/tables/orders", "--ws", url.Replace("http://", "ws://", StringComparison.Ordinal).Replace("/mcp", "/ws", StringComparison.Ordinal));
        Assert.Contains("customer_id", overWebSocket.Output, StringComparison.Ordinal);

        var overStdio = await RunAsync(directory, 0, "sources", "--json", "--stdio", $"\"{TestPaths.DotnetHost}\" \"{TestPaths.CliDll}\" serve --stdio --data-dir \"{dataDir}\"");
        Assert.Contains("\"shop\"", overStdio.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Subscribe_streams_a_topics_events_as_json_lines_until_stopped()
    {
        var directory = TestPaths.NewTempDirectory();
        using var server = TributaryProcess.Start(directory, null, "serve", "--http", "127.0.0.1:0", "--data-dir", DemoDatabase.DataDirectory());
        var endpoint = await server.WaitForEndpointAsync(Patience);
        await using var publisher = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = endpoint }));
        var cursor = JsonDocument.Parse((await publisher.CallToolAsync("read_events", new Dictionary<string, object?> { ["topic"] = "orders", ["limit"] = 1 })).StructuredContent!.Value.GetRawText()).RootElement.GetProperty("cursor").GetInt64();

        using var subscriber = ChildProcess.Start(
            TestPaths.DotnetHost,
            [TestPaths.CliDll, "subscribe", "orders", "--types", "test.marker", "--after", cursor.ToString(System.Globalization.CultureInfo.InvariantCulture), "--url", endpoint.ToString(), "--json"],
            directory,
            new Regex("\"type\":\"test.marker\""));
        await publisher.CallToolAsync("publish_event", new Dictionary<string, object?> { ["topic"] = "orders", ["type"] = "test.marker", ["data"] = new { n = 42 } });
        await subscriber.WaitForReadyAsync(Patience);

        var line = subscriber.StandardOutput.Split('\n').First(l => l.Contains("test.marker", StringComparison.Ordinal));
        var e = JsonDocument.Parse(line).RootElement;
        Assert.Equal(42, e.GetProperty("data").GetProperty("n").GetInt32());
        Assert.True(e.GetProperty("seq").GetInt64() > cursor);
        Assert.DoesNotContain("order.", subscriber.StandardOutput, StringComparison.Ordinal);
    }

    /// <summary><c>subscribe</c> outlives a server restart: it says so on stderr and resumes from its cursor, each event once.</summary>
    [Fact]
    public async Task Subscribe_resumes_from_its_cursor_after_the_server_restarts()
    {
        var directory = TestPaths.NewTempDirectory();
        var data = DemoDatabase.DataDirectory();
        var address = $"127.0.0.1:{TestPaths.FreePort()}";
        var server = TributaryProcess.Start(directory, null, "serve", "--http", address, "--data-dir", data);
        var endpoint = await server.WaitForEndpointAsync(Patience);
        long cursor;
        await using (var publisher = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = endpoint })))
        {
            cursor = JsonDocument.Parse((await publisher.CallToolAsync("read_events", new Dictionary<string, object?> { ["topic"] = "orders", ["limit"] = 1 })).StructuredContent!.Value.GetRawText()).RootElement.GetProperty("cursor").GetInt64();
            await publisher.CallToolAsync("publish_event", new Dictionary<string, object?> { ["topic"] = "orders", ["type"] = "test.marker", ["data"] = new { n = 1 } });
        }

        using var subscriber = ChildProcess.Start(
            TestPaths.DotnetHost,
            [TestPaths.CliDll, "subscribe", "orders", "--types", "test.marker", "--after", cursor.ToString(System.Globalization.CultureInfo.InvariantCulture), "--url", endpoint.ToString(), "--json", "--timeout", "5"],
            directory,
            new Regex("\"n\":2"));
        await WaitUntilAsync(() => subscriber.StandardOutput.Contains("\"n\":1", StringComparison.Ordinal));

        // The server stops (its process ends) and, after an outage longer than a one-off command would wait, a new one
        // starts on the same address and data.
        server.Dispose();
        await Task.Delay(TimeSpan.FromSeconds(4));
        using var restarted = TributaryProcess.Start(directory, null, "serve", "--http", address, "--data-dir", data);
        await restarted.WaitForEndpointAsync(Patience);
        await using (var publisher = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = endpoint })))
        {
            await publisher.CallToolAsync("publish_event", new Dictionary<string, object?> { ["topic"] = "orders", ["type"] = "test.marker", ["data"] = new { n = 2 } });
        }

        await subscriber.WaitForReadyAsync(Patience);
        var numbers = subscriber.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("data").GetProperty("n").GetInt32());
        Assert.Equal([1, 2], numbers);
        Assert.Contains("tributary: reconnected", subscriber.StandardError, StringComparison.Ordinal);
    }

    /// <summary>mTLS from the command line: a PEM client certificate and the server's private authority; without the authority, exit 3 naming TLS.</summary>
    [Fact]
    public async Task Client_certificates_and_a_private_authority_come_from_pem_files()
    {
        await using var server = new MtlsServer();
        await server.InitializeAsync();
        var directory = TestPaths.NewTempDirectory();
        var certificate = Path.Combine(directory, "ci-runner.pem");
        await File.WriteAllTextAsync(certificate, server.CiRunner.ExportCertificatePem() + "\n" + System.Security.Cryptography.X509Certificates.RSACertificateExtensions.GetRSAPrivateKey(server.CiRunner)!.ExportPkcs8PrivateKeyPem());
        var authority = Path.Combine(directory, "ca.pem");
        await File.WriteAllTextAsync(authority, server.Authority.ExportCertificatePem());
        var url = server.McpEndpoint.ToString();

        var sources = await RunAsync(directory, 0, "sources", "--url", url, "--cert", certificate, "--ca", authority, "--json");
        Assert.Contains("\"shop\"", sources.Output, StringComparison.Ordinal);

        var untrusted = await RunAsync(directory, 3, "sources", "--url", url, "--cert", certificate);
        Assert.Contains("TLS handshake", untrusted.Error, StringComparison.Ordinal);

        var unreadable = await RunAsync(directory, 2, "sources", "--url", url, "--cert", authority);
        Assert.Contains("--cert", unreadable.Error, StringComparison.Ordinal);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var attempt = 0; attempt < 600 && !condition(); attempt++)
        {
            await Task.Delay(50);
        }

        Assert.True(condition());
    }

    private static async Task<(string Output, string Error)> RunAsync(string directory, int expectedExit, params string[] arguments)
    {
        using var process = TributaryProcess.Start(directory, null, arguments);
        var exit = await process.WaitForExitAsync(Patience);
        Assert.True(exit == expectedExit, $"tributary {string.Join(' ', arguments)} exited {exit} (expected {expectedExit}): {process.StandardError}");
        return (process.StandardOutput, process.StandardError);
    }
}
