using System.Net;
using System.Text;
using System.Text.Json;
using ModelContextProtocol.Client;
using Tributary.Testing;

namespace Tributary.Cli.Tests;

/// <summary>The real <c>tributary</c> process with authentication: keys from the CLI, tokens from a real issuer, stdio identity, and logs free of secrets.</summary>
public sealed class AuthEndToEndTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Keys_from_the_cli_and_tokens_from_the_issuer_work_and_no_secret_reaches_any_log()
    {
        await using var issuer = await TestAuthorizationServer.StartAsync();
        var directory = TestPaths.NewTempDirectory();
        var port = TestPaths.FreePort();
        var config = WriteConfig(directory, port, issuer.Issuer);

        var key = await RunAsync(directory, 0, "keys", "create", "--config", config, "--name", "ci", "--scopes", "sources:shop:read", "--expires", "30d");
        Assert.StartsWith("trib_", key.Output.Trim(), StringComparison.Ordinal);
        var secret = key.Output.Trim();
        var duplicate = await RunAsync(directory, 1, "keys", "create", "--config", config, "--name", "ci", "--scopes", "sources:shop:read");
        Assert.Contains("already exists", duplicate.Error, StringComparison.Ordinal);
        var bogus = await RunAsync(directory, 2, "keys", "create", "--config", config, "--name", "x", "--scopes", "sources:shop:delete");
        Assert.Contains("'sources:shop:delete' is not a scope", bogus.Error, StringComparison.Ordinal);
        var listed = await RunAsync(directory, 0, "keys", "list", "--config", config, "--json");
        var entry = Assert.Single(JsonDocument.Parse(listed.Output).RootElement.EnumerateArray().ToList());
        Assert.Equal(("ci", "active"), (entry.GetProperty("name").GetString(), entry.GetProperty("state").GetString()));
        Assert.DoesNotContain(secret[5..], listed.Output, StringComparison.Ordinal);

        var token = await issuer.ClientCredentialsTokenAsync($"http://127.0.0.1:{port}/mcp", "sources:shop:read");
        var forged = token[..^6] + "AAAAAA";
        string logs;
        using (var server = TributaryProcess.Start(directory, null, "serve", "--config", config, "--log-level", "Trace"))
        {
            var endpoint = await server.WaitForEndpointAsync(Patience);
            foreach (var credential in new[] { secret, token })
            {
                await using var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
                {
                    Endpoint = endpoint,
                    AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {credential}" },
                }));
                var result = await client.CallToolAsync("query", new Dictionary<string, object?> { ["source"] = "shop", ["sql"] = "SELECT count(*) FROM orders" });
                Assert.True(result.IsError is not true);
            }

            using var http = new HttpClient();
            foreach (var wrong in new[] { forged, secret[..^3] + "abc" })
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
                request.Headers.Add("Authorization", $"Bearer {wrong}");
                using var response = await http.SendAsync(request);
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            }

            await RunAsync(directory, 0, "keys", "revoke", "--config", config, "ci");
            using (var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent("{}", Encoding.UTF8, "application/json") })
            {
                request.Headers.Add("X-API-Key", secret);
                using var response = await http.SendAsync(request);
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            }

            server.Dispose();
            logs = server.StandardOutput + server.StandardError;
        }

        Assert.Contains("Refused a request", logs, StringComparison.Ordinal);
        foreach (var (name, value) in new[] { ("API key", secret[5..]), ("access token", token), ("its signature", token.Split('.')[2]), ("forged token", forged), ("client secret", TestAuthorizationServer.DefaultConfidentialClient.Secret!) })
        {
            Assert.False(logs.Contains(value, StringComparison.Ordinal), $"the {name} appears in the server's log");
        }

        var audit = await RunAsync(directory, 0, "audit", "--config", config, "--json");
        var kinds = JsonDocument.Parse(audit.Output).RootElement.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("tool").GetString()).ToList();
        Assert.Contains("keys.created", kinds);
        Assert.Contains("keys.revoked", kinds);
        Assert.Contains("auth.failed", kinds);
        Assert.DoesNotContain(secret[5..], audit.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stdio_session_is_the_key_in_its_environment_or_refuses_to_start()
    {
        var directory = TestPaths.NewTempDirectory();
        var config = WriteConfig(directory, TestPaths.FreePort(), null);
        var key = (await RunAsync(directory, 0, "keys", "create", "--config", config, "--name", "desktop", "--scopes", "sources:shop:read")).Output.Trim();

        var transport = new StdioClientTransport(new StdioClientTransportOptions
        {
            Command = TestPaths.DotnetHost,
            Arguments = [TestPaths.CliDll, "serve", "--stdio", "--config", config],
            EnvironmentVariables = new Dictionary<string, string?> { ["TRIBUTARY_API_KEY"] = key },
            ShutdownTimeout = TimeSpan.FromSeconds(10),
        });
        await using (var client = await McpClient.CreateAsync(transport))
        {
            Assert.Equal(["list_sources", "describe_schema", "query", "batch_query"], (await client.ListToolsAsync()).Select(t => t.Name));
            var denied = await client.CallToolAsync("update_rows", new Dictionary<string, object?> { ["source"] = "shop", ["table"] = "orders", ["key"] = new { id = 1 }, ["set"] = new { note = "x" } });
            Assert.True(denied.IsError);
        }

        // Without the variable, the local user may do everything.
        await using (var local = await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
        {
            Command = TestPaths.DotnetHost,
            Arguments = [TestPaths.CliDll, "serve", "--stdio", "--config", config],
            EnvironmentVariables = new Dictionary<string, string?> { ["TRIBUTARY_API_KEY"] = null },
            ShutdownTimeout = TimeSpan.FromSeconds(10),
        })))
        {
            Assert.Contains("update_rows", (await local.ListToolsAsync()).Select(t => t.Name));
        }

        using var refused = TributaryProcess.Start(directory, new Dictionary<string, string> { ["TRIBUTARY_API_KEY"] = key[..^4] + "zzzz" }, "serve", "--stdio", "--config", config);
        Assert.Equal(2, await refused.WaitForExitAsync(Patience));
        Assert.Contains("TRIBUTARY_API_KEY: unknown API key", refused.StandardError, StringComparison.Ordinal);
    }

    private static string WriteConfig(string directory, int port, Uri? issuer)
    {
        var database = DemoDatabase.Copy();
        var path = Path.Combine(directory, "tributary.yaml");
        File.WriteAllText(path, $$"""
            server:
              http: 127.0.0.1:{{port}}
              public_url: http://127.0.0.1:{{port}}
              data_dir: ./data
            sources:
              shop:
                kind: sqlite
                path: {{database}}
                writable: true
                tables:
                  orders: { version_column: version, columns: { note: {} } }
            auth:
              api_keys: true
            {{(issuer is null ? "" : $"  oauth: {{ issuer: {issuer} }}")}}
            """);
        return path;
    }

    private static async Task<(string Output, string Error)> RunAsync(string directory, int expectedExit, params string[] arguments)
    {
        using var process = TributaryProcess.Start(directory, null, arguments);
        var exit = await process.WaitForExitAsync(Patience);
        Assert.True(exit == expectedExit, $"tributary {string.Join(' ', arguments)} exited {exit}: {process.StandardError}");
        return (process.StandardOutput, process.StandardError);
    }
}
