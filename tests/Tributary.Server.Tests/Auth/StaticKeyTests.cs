using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Tributary.Core.Configuration;
using Tributary.Server.Hosting;
using Tributary.Testing;

namespace Tributary.Server.Tests.Auth;

/// <summary>
/// Tributary with the issuer's keys from a JWKS file (no discovery) and only RS256 allowed; the tests make their own
/// tokens with those keys, to send what no real issuer would.
/// </summary>
public class StaticKeyServer : TributaryHttpServer
{
    public const string IssuerUrl = "https://issuer.example.com/";

    private static readonly JsonSerializerOptions JwksJson = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    private readonly int _port = TestPaths.FreePort();

    public RsaSecurityKey Rsa { get; } = new(RSA.Create(2048)) { KeyId = "rsa-1" };

    public ECDsaSecurityKey Ec { get; } = new(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = "ec-1" };

    public string Resource => $"http://127.0.0.1:{_port}/mcp";

    protected override HttpEndpoint Endpoint => new(IPAddress.Loopback, _port);

    /// <summary>The <c>sources:</c> and (optionally) <c>tools:</c> sections served.</summary>
    protected virtual string SourcesAndTools => $$"""
        sources:
          shop: { kind: sqlite, path: {{DatabasePath}} }
        """;

    protected override async Task<TributaryConfig> CreateConfigAsync()
    {
        var jwks = Path.Combine(DataDirectory, "jwks.json");
        var keys = new[] { JsonWebKeyConverter.ConvertFromRSASecurityKey(Rsa), JsonWebKeyConverter.ConvertFromECDsaSecurityKey(Ec) };
        await File.WriteAllTextAsync(jwks, JsonSerializer.Serialize(new { keys = keys.Select(k => new { k.Kty, k.Kid, k.N, k.E, k.Crv, k.X, k.Y, use = "sig" }) }, JwksJson));
        return new ConfigLoader(SourceProviders.All).Load($$"""
            server:
              data_dir: {{DataDirectory}}
              public_url: http://127.0.0.1:{{_port}}
            {{SourcesAndTools}}
            auth:
              oauth:
                issuer: {{IssuerUrl}}
                jwks_file: {{jwks}}
                algorithms: [RS256]
                clock_skew: 5s
            """, DataDirectory);
    }

    /// <summary>A token signed with <paramref name="credentials"/>, valid unless the arguments say otherwise.</summary>
    public string Token(SigningCredentials credentials, DateTime? expires = null, DateTime? notBefore = null, string? audience = null, bool withExpiry = true, string subject = "static-user", string scope = "sources:shop:read") =>
        new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = IssuerUrl,
            Audience = audience ?? Resource,
            Subject = new ClaimsIdentity([new Claim("sub", subject), new Claim("scope", scope)]),
            IssuedAt = DateTime.UtcNow,
            NotBefore = notBefore ?? DateTime.UtcNow.AddMinutes(-1),
            Expires = withExpiry ? expires ?? DateTime.UtcNow.AddMinutes(10) : null,
            SigningCredentials = credentials,
        });
}

public sealed class StaticKeyTests(StaticKeyServer server) : IClassFixture<StaticKeyServer>
{
    [Fact]
    public async Task Tokens_signed_with_the_configured_keys_are_checked_for_lifetime_and_algorithm()
    {
        var rs256 = new SigningCredentials(server.Rsa, SecurityAlgorithms.RsaSha256);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(server.Token(rs256)));

        var refused = new Dictionary<string, string>
        {
            ["expired"] = server.Token(rs256, expires: DateTime.UtcNow.AddMinutes(-2), notBefore: DateTime.UtcNow.AddMinutes(-10)),
            ["not yet valid"] = server.Token(rs256, notBefore: DateTime.UtcNow.AddMinutes(5), expires: DateTime.UtcNow.AddMinutes(10)),
            ["without expiry"] = server.Token(rs256, withExpiry: false),
            ["another audience"] = server.Token(rs256, audience: "http://127.0.0.1:1/mcp"),
            ["ES256, not allowed"] = server.Token(new SigningCredentials(server.Ec, SecurityAlgorithms.EcdsaSha256)),
            ["HS256 with the public key as secret"] = server.Token(new SigningCredentials(new SymmetricSecurityKey(server.Rsa.Rsa.ExportSubjectPublicKeyInfo()) { KeyId = "rsa-1" }, SecurityAlgorithms.HmacSha256)),
            ["alg none"] = Unsigned(server.Token(rs256)),
        };
        foreach (var (what, token) in refused)
        {
            Assert.True(await StatusAsync(token) == HttpStatusCode.Unauthorized, what);
        }
    }

    private async Task<HttpStatusCode> StatusAsync(string token)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, server.McpEndpoint)
        {
            Content = new StringContent(
                """{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}""",
                Encoding.UTF8,
                "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("MCP-Protocol-Version", "2026-07-28");
        request.Headers.Add("Mcp-Method", "tools/list");
        request.Headers.Add("Authorization", $"Bearer {token}");
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    private static string Unsigned(string token)
    {
        var header = Convert.ToBase64String(Encoding.UTF8.GetBytes("""{"alg":"none","typ":"JWT"}""")).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return $"{header}.{token.Split('.')[1]}.";
    }
}
