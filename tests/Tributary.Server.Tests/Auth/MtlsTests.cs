using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ModelContextProtocol.Client;
using Tributary.Core.Configuration;
using Tributary.Server.Hosting;
using Tributary.Server.Tests.Mcp;
using Tributary.Testing;

namespace Tributary.Server.Tests.Auth;

public sealed class MtlsTests(MtlsServer server) : IClassFixture<MtlsServer>
{
    [Fact]
    public async Task A_certificate_of_the_trusted_authority_is_the_principal_its_subject_maps_to()
    {
        Assert.Equal("https", server.McpEndpoint.Scheme);
        await using var client = await server.ConnectWithAsync(server.CiRunner);
        Assert.Equal(["list_sources", "describe_schema", "query", "batch_query"], (await client.ListToolsAsync()).Select(t => t.Name));
        var rows = await client.CallOkAsync("query", new() { ["source"] = "shop", ["sql"] = "SELECT count(*) FROM customers" });
        Assert.True(rows.GetProperty("rows")[0][0].GetInt64() > 0);
    }

    [Fact]
    public void The_trust_check_accepts_certificates_of_the_authority_within_their_validity_only()
    {
        var authorities = new X509Certificate2Collection(server.Authority);
        Assert.True(Tributary.Server.Auth.ClientCertificates.IsTrusted(server.CiRunner, authorities, []));
        Assert.False(Tributary.Server.Auth.ClientCertificates.IsTrusted(server.Stranger, authorities, []));
        Assert.False(Tributary.Server.Auth.ClientCertificates.IsTrusted(server.Expired, authorities, []));
        Assert.True(Tributary.Server.Auth.ClientCertificates.IsTrusted(server.Pinned, authorities, [server.Pinned.GetCertHashString(HashAlgorithmName.SHA256)]));
    }

    [Fact]
    public async Task A_certificate_pinned_by_thumbprint_is_trusted_without_an_authority()
    {
        await using var client = await server.ConnectWithAsync(server.Pinned);
        Assert.Contains("shop", (await client.CallOkAsync("list_sources", [])).GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Other_authorities_expired_certificates_and_no_certificate_are_refused_in_the_handshake()
    {
        foreach (var (what, certificate) in new[] { ("another CA", server.Stranger), ("expired", server.Expired), ("none", (X509Certificate2?)null) })
        {
            using var http = server.Client(certificate);
            var error = await Record.ExceptionAsync(() => http.GetAsync(server.McpEndpoint));
            Assert.True(error is HttpRequestException, $"{what}: {error?.GetType().Name ?? "no error"}");
        }

        using var healthy = server.Client(server.CiRunner);
        Assert.Equal("ok", await healthy.GetStringAsync(new Uri(server.BaseAddress, "/healthz")));
    }
}

/// <summary>The same server with client certificates optional, and API keys for clients without one.</summary>
public sealed class OptionalMtlsServer : MtlsServer
{
    protected override bool Required => false;
}

public sealed class OptionalMtlsTests(OptionalMtlsServer server) : IClassFixture<OptionalMtlsServer>
{
    [Fact]
    public async Task Without_a_certificate_another_scheme_is_needed_and_with_one_its_subject_is_the_principal()
    {
        string key;
        using (var keys = new Tributary.Server.Auth.ApiKeyStore(Tributary.Server.State.StateStore.PathIn(server.Config)))
        {
            key = keys.Create("laptop", ["sources:shop:read"], null).Secret;
        }

        using var bare = server.Client(null);
        using (var anonymous = await bare.PostAsync(server.McpEndpoint, new StringContent("{}", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        await using (var keyed = await McpClient.CreateAsync(new HttpClientTransport(
            new HttpClientTransportOptions { Endpoint = server.McpEndpoint, AdditionalHeaders = new Dictionary<string, string> { ["X-API-Key"] = key } }, server.Client(null), ownsHttpClient: true)))
        {
            Assert.Contains("shop", (await keyed.CallOkAsync("list_sources", [])).GetRawText(), StringComparison.Ordinal);
        }

        await using var certified = await server.ConnectWithAsync(server.CiRunner);
        Assert.Equal(["list_sources", "describe_schema", "query", "batch_query"], (await certified.ListToolsAsync()).Select(t => t.Name));

        // An untrusted certificate still fails the handshake.
        using var stranger = server.Client(server.Stranger);
        Assert.IsType<HttpRequestException>(await Record.ExceptionAsync(() => stranger.GetAsync(server.McpEndpoint)));
    }
}
