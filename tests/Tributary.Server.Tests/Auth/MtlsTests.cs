using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ModelContextProtocol.Client;
using Tributary.Core.Configuration;
using Tributary.Server.Hosting;
using Tributary.Server.Tests.Mcp;
using Tributary.Testing;

namespace Tributary.Server.Tests.Auth;

/// <summary>
/// Tributary over HTTPS requiring client certificates: trusted when issued by the test CA or pinned by thumbprint, each
/// subject mapped to its scopes. Every certificate is made here, in code.
/// </summary>
public class MtlsServer : TributaryHttpServer
{
    private readonly int _port = TestPaths.FreePort();

    public MtlsServer()
    {
        Authority = Certificates.Authority("CN=Tributary Test CA");
        OtherAuthority = Certificates.Authority("CN=Somebody Else's CA");
        ServerCertificate = Certificates.Issue(Authority, "CN=127.0.0.1", server: true);
        CiRunner = Certificates.Issue(Authority, "CN=ci-runner");
        Stranger = Certificates.Issue(OtherAuthority, "CN=ci-runner");
        Expired = Certificates.Issue(Authority, "CN=ci-runner", notAfter: DateTimeOffset.UtcNow.AddDays(-1));
        Pinned = Certificates.SelfSigned("CN=pinned");
    }

    public X509Certificate2 Authority { get; }

    public X509Certificate2 OtherAuthority { get; }

    public X509Certificate2 ServerCertificate { get; }

    public X509Certificate2 CiRunner { get; }

    public X509Certificate2 Stranger { get; }

    public X509Certificate2 Expired { get; }

    public X509Certificate2 Pinned { get; }

    protected override HttpEndpoint Endpoint => new(IPAddress.Loopback, _port);

    /// <summary>True when every connection must present a certificate; false also accepts API keys without one.</summary>
    protected virtual bool Required => true;

    protected override async Task<TributaryConfig> CreateConfigAsync()
    {
        string Write(string name, string pem)
        {
            var path = Path.Combine(DataDirectory, name);
            File.WriteAllText(path, pem);
            return path;
        }

        var certificate = Write("server.pem", ServerCertificate.ExportCertificatePem());
        var key = Write("server.key", ServerCertificate.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        var ca = Write("clients-ca.pem", Authority.ExportCertificatePem());
        await Task.CompletedTask;
        return new ConfigLoader(SourceProviders.All).Load($$"""
            server:
              http: 127.0.0.1:{{_port}}
              data_dir: {{DataDirectory}}
              tls: { certificate: {{certificate}}, key: {{key}} }
            sources:
              shop: { kind: sqlite, path: {{DatabasePath}} }
            auth:
              api_keys: {{(!Required ? "true" : "false")}}
              mtls:
                required: {{(Required ? "true" : "false")}}
                ca_file: {{ca}}
                thumbprints: [{{Pinned.GetCertHashString(HashAlgorithmName.SHA256)}}]
                clients:
                  "CN=ci-runner": [sources:shop:read]
                  "CN=pinned": ["*"]
            """, DataDirectory);
    }

    /// <summary>An HTTP client presenting <paramref name="certificate"/> (or none) and trusting the server's certificate.</summary>
    public HttpClient Client(X509Certificate2? certificate) => new(new SocketsHttpHandler
    {
        SslOptions =
        {
            ClientCertificates = certificate is null ? null : [certificate],
            RemoteCertificateValidationCallback = (_, presented, _, _) => presented is not null && presented.GetCertHashString() == ServerCertificate.GetCertHashString(),
        },
    });

    /// <summary>The SDK client over a connection that presents <paramref name="certificate"/>.</summary>
    public Task<McpClient> ConnectWithAsync(X509Certificate2 certificate) =>
        McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = McpEndpoint }, Client(certificate), ownsHttpClient: true));
}

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

/// <summary>Test certificates made in code: authorities, certificates they issue, self-signed ones.</summary>
internal static class Certificates
{
    public static X509Certificate2 Authority(string subject)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddYears(-1), DateTimeOffset.UtcNow.AddYears(1));
    }

    public static X509Certificate2 Issue(X509Certificate2 authority, string subject, bool server = false, DateTimeOffset? notAfter = null)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }

        var end = notAfter ?? DateTimeOffset.UtcNow.AddMonths(6);
        var start = notAfter is null ? DateTimeOffset.UtcNow.AddDays(-7) : end.AddDays(-30);
        using var issued = request.Create(authority, start, end, RandomNumberGenerator.GetBytes(16));
        return X509CertificateLoader.LoadPkcs12(issued.CopyWithPrivateKey(key).Export(X509ContentType.Pkcs12), null);
    }

    public static X509Certificate2 SelfSigned(string subject)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddMonths(6));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }
}
