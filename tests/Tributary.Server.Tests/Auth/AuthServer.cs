using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ModelContextProtocol.Client;
using Tributary.Core.Configuration;
using Tributary.Server.Auth;
using Tributary.Server.Hosting;
using Tributary.Server.State;
using Tributary.Testing;

namespace Tributary.Server.Tests.Auth;

/// <summary>
/// Tributary with every scheme but mTLS: OAuth tokens from a real OpenIddict server (discovery and JWKS), API keys, and
/// rate limits; a writable <c>shop</c>, a read-only <c>other</c>, an HTTP API <c>tracker</c>, the <c>orders</c> topic,
/// and named tools (a query and a GET) whose customer comes from a token claim.
/// </summary>
public sealed class AuthServer : TributaryHttpServer
{
    /// <summary>A principal name with a low rate limit (60 a minute, so at most 60 at once).</summary>
    public const string LimitedKey = "limited";

    private readonly int _port = TestPaths.FreePort();

    public AuthServer() => Tracker = DisposedWithServer(new RecordingUpstream(_ => (200, "application/json", """{"tickets":[]}""")));

    /// <summary>The API behind the <c>tracker</c> source.</summary>
    public RecordingUpstream Tracker { get; }

    /// <summary>The authorization server.</summary>
    public TestAuthorizationServer Issuer { get; private set; } = null!;

    /// <summary>This server's canonical resource URI, the audience of its tokens.</summary>
    public string Resource => $"http://127.0.0.1:{_port}/mcp";

    /// <inheritdoc />
    protected override HttpEndpoint Endpoint => new(IPAddress.Loopback, _port);

    public override async Task InitializeAsync()
    {
        Issuer = DisposedWithServer(await TestAuthorizationServer.StartAsync());
        await base.InitializeAsync();
    }

    /// <inheritdoc />
    protected override Task<TributaryConfig> CreateConfigAsync() => FromYaml($$"""
        server:
          public_url: http://127.0.0.1:{{_port}}
        sources:
          shop:
            kind: sqlite
            path: {{DatabasePath}}
            writable: true
            tables:
              orders: { version_column: version, columns: { status: {}, note: {} } }
          other:
            kind: sqlite
            path: {{DatabasePath}}
          tracker:
            kind: http
            base_url: {{Tracker.Url("/v1")}}
            allowed_ranges: [127.0.0.1/32]
        tools:
          my_orders:
            source: shop
            description: The caller's own orders
            statement: SELECT id, customer_id, status FROM orders WHERE customer_id = @customer_id ORDER BY id
            parameters:
              customer_id: { type: integer, from_claim: customer_id }
          my_tickets:
            source: tracker
            path: /customers/{customer_id}/tickets
            parameters:
              customer_id: { type: integer, from_claim: customer_id }
        topics:
          orders: { description: Order activity }
        auth:
          oauth:
            issuer: {{Issuer.Issuer}}
          api_keys: true
          rate_limit:
            per_minute: 60000
            burst: 1000
            unauthenticated_per_minute: 60
            principals: { {{LimitedKey}}: 60 }
        """);

    /// <summary>The key store, through a connection of its own (as <c>tributary keys</c> in another process would use).</summary>
    public ApiKeyStore OpenKeys() => new(StateStore.PathIn(Config));

    /// <summary>Creates an API key and returns it.</summary>
    public string CreateKey(string name, params string[] scopes)
    {
        using var keys = OpenKeys();
        return keys.Create(name, scopes, null).Secret;
    }

    /// <summary>Connects the SDK client with <c>Authorization: Bearer</c> <paramref name="credential"/>.</summary>
    public Task<McpClient> ConnectAsync(string credential, string? protocolVersion = null) =>
        ConnectAsync(protocolVersion: protocolVersion, headers: new Dictionary<string, string> { ["Authorization"] = $"Bearer {credential}" });

    /// <summary>Posts one 2026-07-28 JSON-RPC request with the given headers and returns the raw response.</summary>
    public async Task<HttpResponseMessage> PostAsync(string method, object parameters, params (string Name, string Value)[] headers)
    {
        using var http = new HttpClient();
        var body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["jsonrpc"] = "2.0",
            ["id"] = 1,
            ["method"] = method,
            ["params"] = Merge(parameters),
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, McpEndpoint) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("MCP-Protocol-Version", "2026-07-28");
        request.Headers.Add("Mcp-Method", method);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    /// <summary>A bearer header.</summary>
    public static (string, string) Bearer(string credential) => ("Authorization", $"Bearer {credential}");

    /// <summary>The <c>WWW-Authenticate</c> header of a response, as one string.</summary>
    public static string Challenge(HttpResponseMessage response) => string.Join(", ", response.Headers.WwwAuthenticate.Select(h => h.ToString()));

    private static Dictionary<string, object> Merge(object parameters)
    {
        var merged = JsonSerializer.Deserialize<Dictionary<string, object>>(JsonSerializer.Serialize(parameters))!;
        merged["_meta"] = new Dictionary<string, object>
        {
            ["io.modelcontextprotocol/protocolVersion"] = "2026-07-28",
            ["io.modelcontextprotocol/clientCapabilities"] = new Dictionary<string, object>(),
        };
        return merged;
    }
}
