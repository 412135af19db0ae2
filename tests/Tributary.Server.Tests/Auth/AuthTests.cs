using System.Net;
using System.Text;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using Tributary.Server.State;
using Tributary.Server.Tests.Mcp;
using Tributary.Testing;

namespace Tributary.Server.Tests.Auth;

/// <summary>OAuth 2.1 tokens from a real authorization server, API keys, scopes and rate limits, over real HTTP.</summary>
public sealed class AuthTests(AuthServer server) : IClassFixture<AuthServer>
{
    private static readonly object ListTools = new { };

    [Fact]
    public async Task Without_credentials_the_server_answers_401_pointing_to_its_resource_metadata()
    {
        using var response = await server.PostAsync("tools/list", ListTools);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var metadataUrl = $"http://127.0.0.1:{server.McpEndpoint.Port}/.well-known/oauth-protected-resource/mcp";
        Assert.Contains($"resource_metadata=\"{metadataUrl}\"", AuthServer.Challenge(response), StringComparison.Ordinal);

        // A call that needs a scope names it in the challenge, so that the client asks for it.
        using var call = await server.PostAsync("tools/call", new { name = "query", arguments = new { source = "shop", sql = "SELECT 1" } });
        Assert.Equal(HttpStatusCode.Unauthorized, call.StatusCode);
        Assert.Contains("scope=\"sources:shop:read\"", AuthServer.Challenge(call), StringComparison.Ordinal);
        Assert.DoesNotContain("scope=", AuthServer.Challenge(response), StringComparison.Ordinal);

        // RFC 9728 metadata, at the root and in the path form, open to anyone.
        using var http = new HttpClient();
        foreach (var url in new[] { metadataUrl, $"http://127.0.0.1:{server.McpEndpoint.Port}/.well-known/oauth-protected-resource" })
        {
            var metadata = JsonDocument.Parse(await http.GetStringAsync(url)).RootElement;
            Assert.Equal(server.Resource, metadata.GetProperty("resource").GetString());
            Assert.Equal(server.Issuer.Issuer.ToString(), metadata.GetProperty("authorization_servers")[0].GetString());
            Assert.Contains("sources:shop:read", metadata.GetProperty("scopes_supported").EnumerateArray().Select(s => s.GetString()));
        }

        Assert.Equal("ok", await http.GetStringAsync(new Uri(server.BaseAddress, "/healthz")));
        Assert.StartsWith("ready:", await http.GetStringAsync(new Uri(server.BaseAddress, "/readyz")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_credentials_token_sees_and_uses_only_what_its_scopes_allow()
    {
        var token = await server.Issuer.ClientCredentialsTokenAsync(server.Resource, "sources:shop:read", "topics:orders:read");
        await using var client = await server.ConnectAsync(token);
        var tools = (await client.ListToolsAsync()).Select(t => t.Name).ToList();
        // fetch is listed only to a caller who may read an HTTP API source.
        Assert.Equal(["list_sources", "describe_schema", "query", "batch_query", "read_events"], tools);
        var apiToken = await server.Issuer.ClientCredentialsTokenAsync(server.Resource, "sources:tracker:read");
        await using (var apiClient = await server.ConnectAsync(apiToken))
        {
            Assert.Contains("fetch", (await apiClient.ListToolsAsync()).Select(t => t.Name));
        }

        var sources = await client.CallOkAsync("list_sources", []);
        Assert.Equal(["shop"], sources.GetProperty("sources").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        var rows = await client.CallOkAsync("query", new() { ["source"] = "shop", ["sql"] = "SELECT count(*) FROM orders" });
        Assert.True(rows.GetProperty("rows")[0][0].GetInt64() > 0);

        var templates = (await client.ListResourceTemplatesAsync()).Select(t => t.UriTemplate).ToList();
        Assert.DoesNotContain(templates, t => t.StartsWith("tributary://audit", StringComparison.Ordinal));
        Assert.DoesNotContain((await client.ListResourcesAsync()).Select(r => r.Uri), u => u == "tributary://audit");

        // A source it may not read: 403 with the scope it lacks, and nothing runs.
        using var denied = await server.PostAsync("tools/call", new { name = "query", arguments = new { source = "other", sql = "SELECT 1" } }, AuthServer.Bearer(token));
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.Contains("error=\"insufficient_scope\"", AuthServer.Challenge(denied), StringComparison.Ordinal);
        Assert.Contains("scope=\"sources:other:read\"", AuthServer.Challenge(denied), StringComparison.Ordinal);
        Assert.Equal(1, JsonDocument.Parse(await denied.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetInt32());
        using var write = await server.PostAsync("tools/call", new { name = "update_rows", arguments = new { source = "shop", table = "orders", key = new { id = 1 }, set = new { note = "x" } } }, AuthServer.Bearer(token));
        Assert.Equal(HttpStatusCode.Forbidden, write.StatusCode);
        using var resource = await server.PostAsync("resources/read", new { uri = "tributary://sources/other/schema" }, AuthServer.Bearer(token));
        Assert.Equal(HttpStatusCode.Forbidden, resource.StatusCode);

        var audit = OpenState().ReadAudit(50);
        Assert.Contains(audit, e => e.Tool == "auth.denied" && e.Source == "sources:other:read");
    }

    [Fact]
    public async Task An_authorization_code_token_binds_a_tool_parameter_to_its_claim_whatever_the_model_passes()
    {
        var token = await server.Issuer.AuthorizationCodeTokenAsync(server.Resource, "alice", new Dictionary<string, string> { ["customer_id"] = "3" }, "tools:my_orders");
        await using var client = await server.ConnectAsync(token);
        var tools = await client.ListToolsAsync();
        Assert.Equal(["list_sources", "my_orders"], tools.Select(t => t.Name));
        var tool = tools[1];
        Assert.False(tool.JsonSchema.GetProperty("properties").TryGetProperty("customer_id", out _));

        var mine = await client.CallOkAsync("my_orders", new() { ["customer_id"] = 1 });
        var customers = mine.GetProperty("rows").EnumerateArray().Select(r => r[1].GetInt64()).Distinct().ToList();
        Assert.Equal([3L], customers);

        // A token without the claim gets a tool error that names it.
        var bare = await server.Issuer.AuthorizationCodeTokenAsync(server.Resource, "bob", "tools:my_orders");
        await using var other = await server.ConnectAsync(bare);
        var error = await other.CallErrorAsync("my_orders", []);
        Assert.Contains("claim 'customer_id'", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_tokens_are_refused_with_401_and_nothing_runs()
    {
        var good = await server.Issuer.ClientCredentialsTokenAsync(server.Resource, "*");
        await using var other = await TestAuthorizationServer.StartAsync();
        var bad = new Dictionary<string, string>
        {
            ["malformed"] = "not-a-jwt",
            ["bad signature"] = good[..^4] + (good[^4..] == "AAAA" ? "BBBB" : "AAAA"),
            ["alg none"] = Unsigned(good),
            ["another audience"] = await server.Issuer.ClientCredentialsTokenAsync("http://127.0.0.1:1/mcp", "*"),
            ["another issuer"] = await other.ClientCredentialsTokenAsync(server.Resource, "*"),
        };
        foreach (var (what, token) in bad)
        {
            using var response = await server.PostAsync("tools/list", ListTools, AuthServer.Bearer(token));
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{what}: {response.StatusCode}");
            Assert.Contains("error=\"invalid_token\"", AuthServer.Challenge(response), StringComparison.Ordinal);
        }

        // In the query string, a good token is not accepted.
        using var http = new HttpClient();
        using var query = await http.PostAsync(new Uri(server.McpEndpoint + "?access_token=" + good), new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, query.StatusCode);

        // A 64 KiB Authorization header is refused by the HTTP server before anything reads it.
        using var huge = await server.PostAsync("tools/list", ListTools, ("Authorization", "Bearer " + new string('a', 64 * 1024)));
        Assert.True(huge.StatusCode is HttpStatusCode.RequestHeaderFieldsTooLarge or HttpStatusCode.BadRequest, huge.StatusCode.ToString());

        using var ok = await server.PostAsync("tools/list", ListTools, AuthServer.Bearer(good));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Contains(OpenState().ReadAudit(100), e => e.Tool == "auth.failed");
    }

    [Fact]
    public async Task After_the_issuer_rotates_its_key_new_tokens_are_accepted()
    {
        var before = await server.Issuer.ClientCredentialsTokenAsync(server.Resource, "sources:shop:read");
        using (var first = await server.PostAsync("tools/list", ListTools, AuthServer.Bearer(before)))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        await server.Issuer.RotateSigningKeyAsync();
        var after = await server.Issuer.ClientCredentialsTokenAsync(server.Resource, "sources:shop:read");
        Assert.NotEqual(Kid(before), Kid(after));

        // The new key is fetched from the JWKS (at most once per 5 s), so the token is accepted at the latest then.
        var status = HttpStatusCode.Unauthorized;
        for (var attempt = 0; attempt < 60 && status != HttpStatusCode.OK; attempt++)
        {
            using var response = await server.PostAsync("tools/list", ListTools, AuthServer.Bearer(after));
            status = response.StatusCode;
            if (status != HttpStatusCode.OK)
            {
                await Task.Delay(500);
            }
        }

        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task A_session_of_one_user_cannot_be_used_with_another_users_token()
    {
        var alice = await server.Issuer.AuthorizationCodeTokenAsync(server.Resource, "alice", "*");
        var bob = await server.Issuer.AuthorizationCodeTokenAsync(server.Resource, "bob", "*");
        await using var client = await server.ConnectAsync(alice, protocolVersion: "2025-11-25");
        var sessionId = client.SessionId;
        Assert.NotNull(sessionId);

        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, server.McpEndpoint)
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("Mcp-Session-Id", sessionId);
        request.Headers.Add("MCP-Protocol-Version", "2025-11-25");
        request.Headers.Add("Authorization", $"Bearer {bob}");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Api_keys_work_as_bearer_or_header_and_stop_at_once_when_revoked_or_expired()
    {
        var key = server.CreateKey("reader", "sources:shop:read", "audit:read");
        using (var viaBearer = await server.PostAsync("tools/list", ListTools, AuthServer.Bearer(key)))
        using (var viaHeader = await server.PostAsync("tools/list", ListTools, ("X-API-Key", key)))
        {
            Assert.Equal(HttpStatusCode.OK, viaBearer.StatusCode);
            Assert.Equal(HttpStatusCode.OK, viaHeader.StatusCode);
        }

        await using (var client = await server.ConnectAsync(key))
        {
            Assert.Contains((await client.ListResourcesAsync()).Select(r => r.Uri), u => u == "tributary://audit");
        }

        // Revoked through another connection (as the CLI does from its own process): refused at the next request.
        using (var keys = server.OpenKeys())
        {
            Assert.True(keys.Revoke("reader"));
        }

        using (var revoked = await server.PostAsync("tools/list", ListTools, AuthServer.Bearer(key)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, revoked.StatusCode);
            Assert.Contains("revoked", await revoked.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Not a key, or a made-up one: refused the same way, and the key itself never shows up in the response.
        foreach (var wrong in new[] { "api_" + key[5..], key[..^2] + "zz", "trib_" })
        {
            using var response = await server.PostAsync("tools/list", ListTools, ("X-API-Key", wrong));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            if (wrong.Length > 5)
            {
                Assert.DoesNotContain(wrong[5..], await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }
        }

        string shortLived;
        using (var keys = server.OpenKeys())
        {
            shortLived = keys.Create("short", ["sources:shop:read"], TimeSpan.FromSeconds(1)).Secret;
        }

        var status = HttpStatusCode.OK;
        for (var attempt = 0; attempt < 40 && status == HttpStatusCode.OK; attempt++)
        {
            await Task.Delay(250);
            using var response = await server.PostAsync("tools/list", ListTools, ("X-API-Key", shortLived));
            status = response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task A_flood_without_credentials_is_rate_limited_and_the_server_still_serves_others()
    {
        var key = server.CreateKey("flood-witness", "sources:shop:read");
        using var http = new HttpClient();
        var statuses = await Task.WhenAll(Enumerable.Range(0, 1000).Select(async _ =>
        {
            using var response = await http.PostAsync(server.McpEndpoint, new StringContent("{}", Encoding.UTF8, "application/json"));
            return (response.StatusCode, RetryAfter: response.Headers.RetryAfter?.Delta);
        }));
        Assert.True(statuses.Count(s => s.StatusCode == HttpStatusCode.TooManyRequests) >= 900, string.Join(",", statuses.GroupBy(s => s.StatusCode).Select(g => $"{g.Key}={g.Count()}")));
        Assert.All(statuses.Where(s => s.StatusCode == HttpStatusCode.TooManyRequests), s => Assert.True(s.RetryAfter >= TimeSpan.FromSeconds(1)));
        Assert.All(statuses, s => Assert.True(s.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.Unauthorized));

        using var served = await server.PostAsync("tools/list", ListTools, ("X-API-Key", key));
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public async Task A_principal_over_its_own_limit_gets_429_with_Retry_After()
    {
        var key = server.CreateKey(AuthServer.LimitedKey, "sources:shop:read");
        var statuses = new List<HttpStatusCode>();
        TimeSpan? retryAfter = null;
        for (var i = 0; i < 70; i++)
        {
            using var response = await server.PostAsync("tools/list", ListTools, ("X-API-Key", key));
            statuses.Add(response.StatusCode);
            retryAfter ??= response.Headers.RetryAfter?.Delta;
        }

        Assert.Contains(HttpStatusCode.OK, statuses);
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.True(retryAfter >= TimeSpan.FromSeconds(1));
    }

    private StateStore OpenState() => new(StateStore.PathIn(server.Config), TimeSpan.FromDays(1));

    /// <summary>The token's header and payload with <c>alg: none</c> and no signature.</summary>
    private static string Unsigned(string token)
    {
        var payload = token.Split('.')[1];
        var header = Convert.ToBase64String(Encoding.UTF8.GetBytes("""{"alg":"none","typ":"JWT"}""")).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return $"{header}.{payload}.";
    }

    private static string Kid(string token)
    {
        var header = token.Split('.')[0].Replace('-', '+').Replace('_', '/');
        header = header.PadRight(header.Length + ((4 - (header.Length % 4)) % 4), '=');
        return JsonDocument.Parse(Convert.FromBase64String(header)).RootElement.GetProperty("kid").GetString()!;
    }
}
