using System.Security.Cryptography.X509Certificates;
using System.Text;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Sources;
using Tributary.Sources.Http;
using Tributary.Testing;

namespace Tributary.Sources.Http.Tests;

/// <summary>An HTTP source presenting its own client certificate to an API that requires one (a Tributary server with mTLS), trusting the API's private authority.</summary>
public sealed class UpstreamMtlsTests(MtlsServer api) : IClassFixture<MtlsServer>
{
    [Fact]
    public async Task The_source_presents_its_certificate_and_trusts_only_the_authority_it_is_given()
    {
        var directory = TestPaths.NewTempDirectory();
        var certificate = Path.Combine(directory, "client.pem");
        await File.WriteAllTextAsync(certificate, api.CiRunner.ExportCertificatePem() + "\n" + api.CiRunner.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        var authority = Path.Combine(directory, "ca.pem");
        await File.WriteAllTextAsync(authority, api.Authority.ExportCertificatePem());

        await using (var source = Source(("client_certificate", certificate), ("ca_file", authority)))
        {
            var answer = await source.FetchAsync("/healthz", [], CancellationToken.None);
            Assert.Equal("ok", Encoding.UTF8.GetString(answer.Response.Body));
        }

        // Without the authority the API's certificate is not trusted; without a certificate the API refuses the handshake.
        await using (var untrusting = Source(("client_certificate", certificate)))
        {
            Assert.Contains("TLS handshake failed", (await Assert.ThrowsAsync<ToolException>(() => untrusting.FetchAsync("/healthz", [], CancellationToken.None))).Message, StringComparison.Ordinal);
        }

        await using (var anonymous = Source(("ca_file", authority)))
        {
            Assert.Contains("could not be reached", (await Assert.ThrowsAsync<ToolException>(() => anonymous.FetchAsync("/healthz", [], CancellationToken.None))).Message, StringComparison.Ordinal);
        }

        var errors = new ConfigErrors();
        Assert.Null(HttpProvider.Read(new SourceConfig { Name = "api", Kind = "http", Settings = new Dictionary<string, string> { ["base_url"] = "https://api.example.com", ["client_certificate"] = authority } }, new SourceContext(directory), errors));
        Assert.Contains(errors.All, e => e.ToString().Contains("client_certificate", StringComparison.Ordinal));
    }

    private HttpSource Source(params (string Key, string Value)[] settings) =>
        TestSources.Create($"https://127.0.0.1:{api.McpEndpoint.Port}", [("retries", "0"), .. settings]);
}
