using System.Net;
using Tributary.Core.Configuration;
using Tributary.Server.Hosting;
using Tributary.Server.Tests.Mcp;
using Tributary.Testing;

namespace Tributary.Server.Tests.Auth;

/// <summary>
/// Issuer discovery against issuers that publish only one metadata document: OpenID Connect discovery alone, or RFC 8414
/// authorization server metadata alone. Either way Tributary finds the key set and validates the issuer's real tokens.
/// </summary>
public sealed class IssuerDiscoveryTests
{
    [Theory]
    [InlineData(TestMetadataDocuments.OpenIdConnect)]
    [InlineData(TestMetadataDocuments.OAuthAuthorizationServer)]
    public async Task Tokens_of_an_issuer_with_only_one_metadata_document_are_validated_by_discovery_and_its_key_set(TestMetadataDocuments served)
    {
        await using var issuer = await TestAuthorizationServer.StartAsync(new TestAuthorizationServerOptions { MetadataDocuments = served });

        // The issuer really serves the one document and not the other.
        using (var http = new HttpClient())
        {
            var (present, absent) = served == TestMetadataDocuments.OpenIdConnect
                ? (issuer.DiscoveryEndpoint, issuer.MetadataEndpoint)
                : (issuer.MetadataEndpoint, issuer.DiscoveryEndpoint);
            using var found = await http.GetAsync(present);
            using var missing = await http.GetAsync(absent);
            Assert.Equal(HttpStatusCode.OK, found.StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        var server = new OAuthOnlyServer(issuer.Issuer);
        await server.InitializeAsync();
        try
        {
            var token = await issuer.ClientCredentialsTokenAsync(server.Resource, "sources:shop:read");
            await using var client = await server.ConnectAsync(headers: new Dictionary<string, string> { ["Authorization"] = $"Bearer {token}" });
            var rows = await client.CallOkAsync("query", new() { ["source"] = "shop", ["sql"] = "SELECT count(*) FROM orders" });
            Assert.True(rows.GetProperty("rows")[0][0].GetInt64() > 0);

            // A token of another issuer (same kind of server, its own keys) is still refused.
            await using var other = await TestAuthorizationServer.StartAsync(new TestAuthorizationServerOptions { MetadataDocuments = served });
            var foreign = await other.ClientCredentialsTokenAsync(server.Resource, "sources:shop:read");
            using var http = new HttpClient();
            using var request = new HttpRequestMessage(HttpMethod.Post, server.McpEndpoint)
            {
                Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}""", System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Accept.ParseAdd("application/json, text/event-stream");
            request.Headers.Add("MCP-Protocol-Version", "2026-07-28");
            request.Headers.Add("Authorization", $"Bearer {foreign}");
            using var refused = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>Tributary with OAuth only, trusting <paramref name="issuer"/> (found by discovery).</summary>
    private sealed class OAuthOnlyServer(Uri issuer) : TributaryHttpServer
    {
        private readonly int _port = TestPaths.FreePort();

        public string Resource => $"http://127.0.0.1:{_port}/mcp";

        protected override HttpEndpoint Endpoint => new(IPAddress.Loopback, _port);

        protected override Task<TributaryConfig> CreateConfigAsync() => FromYaml($$"""
            server:
              public_url: http://127.0.0.1:{{_port}}
            sources:
              shop: { kind: sqlite, path: {{DatabasePath}} }
            auth:
              oauth: { issuer: {{issuer}} }
            """);
    }

    /// <summary>An issuer with a path (a tenant, a realm): RFC 8414 puts the well-known segment before the path, OpenID Connect after it.</summary>
    [Fact]
    public void Metadata_of_an_issuer_with_a_path_is_looked_for_where_each_specification_puts_it()
    {
        Assert.Equal(
            ["https://login.example.com/tenant1/.well-known/openid-configuration", "https://login.example.com/.well-known/oauth-authorization-server/tenant1", "https://login.example.com/.well-known/openid-configuration/tenant1"],
            Tributary.Server.Auth.TributaryAuthentication.DiscoveryRetriever.MetadataAddresses(new Uri("https://login.example.com/tenant1/")));
        Assert.Equal(
            ["https://login.example.com/.well-known/openid-configuration", "https://login.example.com/.well-known/oauth-authorization-server"],
            Tributary.Server.Auth.TributaryAuthentication.DiscoveryRetriever.MetadataAddresses(new Uri("https://login.example.com/")));
    }
}
