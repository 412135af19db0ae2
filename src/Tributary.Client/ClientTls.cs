using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Tributary.Client;

/// <summary>The TLS side of the options: a client certificate to present (mTLS) and a private authority to trust for the server's certificate.</summary>
internal static class ClientTls
{
    /// <summary>True when the options ask for TLS settings of their own (and no <see cref="TributaryClientOptions.HttpClient"/> of the caller's carries them).</summary>
    public static bool Needed(TributaryClientOptions options) => options.ClientCertificate is not null || options.TrustedAuthority is not null;

    /// <summary>An HTTP client that presents the client certificate and trusts the authority.</summary>
    public static HttpClient CreateHttpClient(TributaryClientOptions options) => new(new SocketsHttpHandler
    {
        SslOptions =
        {
            ClientCertificates = options.ClientCertificate is { } certificate ? [certificate] : null,
            RemoteCertificateValidationCallback = options.TrustedAuthority is { } authority ? (_, presented, _, errors) => IsTrusted(authority, presented, errors) : null,
        },
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
    });

    /// <summary>The same settings for a WebSocket, before the caller's own <see cref="TributaryClientOptions.ConfigureWebSocket"/>.</summary>
    public static Action<System.Net.WebSockets.ClientWebSocketOptions>? ConfigureWebSocket(TributaryClientOptions options)
    {
        if (!Needed(options))
        {
            return options.ConfigureWebSocket;
        }

        return socket =>
        {
            if (options.ClientCertificate is { } certificate)
            {
                socket.ClientCertificates.Add(certificate);
            }

            if (options.TrustedAuthority is { } authority)
            {
                socket.RemoteCertificateValidationCallback = (_, presented, _, errors) => IsTrusted(authority, presented, errors);
            }

            options.ConfigureWebSocket?.Invoke(socket);
        };
    }

    /// <summary>The server's certificate is valid for the host and chains to <paramref name="authority"/> (and only that).</summary>
    private static bool IsTrusted(X509Certificate2 authority, X509Certificate? presented, SslPolicyErrors errors)
    {
        if (presented is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var certificate = new X509Certificate2(presented);
        return chain.Build(certificate);
    }
}
