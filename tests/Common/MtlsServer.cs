using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ModelContextProtocol.Client;
using Tributary.Core.Configuration;
using Tributary.Server.Hosting;

namespace Tributary.Testing;

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

/// <summary>Test certificates made in code: authorities, certificates they issue, self-signed ones.</summary>
public static class Certificates
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
