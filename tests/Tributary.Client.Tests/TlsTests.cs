using Tributary.Testing;

namespace Tributary.Client.Tests;

/// <summary>The client over HTTPS and WSS to a Tributary that requires client certificates (mTLS), with its own private authority.</summary>
public sealed class TlsTests(MtlsServer server) : IClassFixture<MtlsServer>
{
    [Theory]
    [InlineData(TributaryTransport.Http)]
    [InlineData(TributaryTransport.WebSocket)]
    public async Task A_client_certificate_is_the_principal_and_a_private_authority_is_trusted(TributaryTransport transport)
    {
        await using var client = await TributaryClient.ConnectAsync(Options(transport) with { ClientCertificate = server.CiRunner, TrustedAuthority = server.Authority });
        Assert.Equal("shop", Assert.Single((await client.ListSourcesAsync()).Sources).Name);
        Assert.Single(await client.QueryAsync("shop", "SELECT count(*) AS n FROM customers").ToListAsync());

        // CN=ci-runner may read the source, nothing more.
        await Assert.ThrowsAsync<TributaryToolException>(() => client.PublishAsync("orders", "x", System.Text.Json.JsonElement.Parse("{}")));
    }

    [Theory]
    [InlineData(TributaryTransport.Http)]
    [InlineData(TributaryTransport.WebSocket)]
    public async Task A_server_certificate_nobody_trusts_fails_at_once_with_a_clear_message(TributaryTransport transport)
    {
        var options = Options(transport) with { ClientCertificate = server.CiRunner, Retry = new RetryPolicy { Attempts = 5, FirstDelay = TimeSpan.FromSeconds(2) } };
        var error = await Assert.ThrowsAsync<TributaryConnectionException>(() => TributaryClient.ConnectAsync(options));
        Assert.Contains("TLS handshake", error.Message, StringComparison.Ordinal);
        Assert.Contains("TrustedAuthority", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("tries", error.Message, StringComparison.Ordinal);

        // Trusting another authority is no better.
        var other = await Assert.ThrowsAsync<TributaryConnectionException>(() => TributaryClient.ConnectAsync(options with { TrustedAuthority = server.OtherAuthority }));
        Assert.Contains("TLS handshake", other.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Certificate_settings_that_cannot_work_are_refused_before_connecting()
    {
        using var withoutKey = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(server.CiRunner.RawData);
        var noKey = Assert.Throws<ArgumentException>(() => (Options(TributaryTransport.Http) with { ClientCertificate = withoutKey }).Validate());
        Assert.Contains("no private key", noKey.Message, StringComparison.Ordinal);
        using var http = new HttpClient();
        Assert.Throws<ArgumentException>(() => (Options(TributaryTransport.Http) with { HttpClient = http, ClientCertificate = server.CiRunner }).Validate());
    }

    private TributaryClientOptions Options(TributaryTransport transport) => new()
    {
        Transport = transport,
        Endpoint = transport == TributaryTransport.WebSocket ? new Uri($"wss://127.0.0.1:{server.McpEndpoint.Port}/ws") : server.McpEndpoint,
        Retry = new RetryPolicy { Attempts = 2, FirstDelay = TimeSpan.FromMilliseconds(50) },
    };
}
