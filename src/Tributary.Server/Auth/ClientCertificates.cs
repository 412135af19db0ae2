using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Tributary.Core.Configuration;

namespace Tributary.Server.Auth;

/// <summary>
/// HTTPS for Kestrel: the server certificate from <c>server.tls</c>, and, with <c>auth.mtls</c>, client certificates
/// checked in the handshake: trusted when their SHA-256 thumbprint is listed, or when they chain (within their validity)
/// to a certificate authority of the CA bundle. Anything else is refused before HTTP starts.
/// </summary>
public static class ClientCertificates
{
    /// <summary>Loads the server certificate: PEM (with its key file) or PKCS#12.</summary>
    public static X509Certificate2 LoadServerCertificate(TlsConfig tls)
    {
        ArgumentNullException.ThrowIfNull(tls);
        return tls.KeyFile is { } key
            ? Core.Security.PemFiles.Certificate(tls.CertificateFile, key)
            : X509CertificateLoader.LoadPkcs12FromFile(tls.CertificateFile, tls.Password);
    }

    /// <summary>Configures HTTPS with <paramref name="certificate"/>, and client certificates as <paramref name="mtls"/> says.</summary>
    public static void Configure(HttpsConnectionAdapterOptions https, X509Certificate2 certificate, MtlsConfig? mtls)
    {
        ArgumentNullException.ThrowIfNull(https);
        https.ServerCertificate = certificate;
        if (mtls is null)
        {
            return;
        }

        var authorities = mtls.CaFile is { } file ? Core.Security.PemFiles.Authorities(file) : [];
        https.ClientCertificateMode = mtls.Required ? ClientCertificateMode.RequireCertificate : ClientCertificateMode.AllowCertificate;
        https.ClientCertificateValidation = (client, _, _) => IsTrusted(client, authorities, mtls.Thumbprints);
    }

    /// <summary>True when <paramref name="client"/> is listed by thumbprint, or chains to one of <paramref name="authorities"/> and is within its validity.</summary>
    public static bool IsTrusted(X509Certificate2 client, X509Certificate2Collection authorities, IReadOnlyList<string> thumbprints)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(authorities);
        ArgumentNullException.ThrowIfNull(thumbprints);
        var now = DateTime.Now;
        if (now < client.NotBefore || now > client.NotAfter)
        {
            return false;
        }

        if (thumbprints.Contains(client.GetCertHashString(HashAlgorithmName.SHA256), StringComparer.OrdinalIgnoreCase))
        {
            return true;
        }

        if (authorities.Count == 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2")); // client authentication
        return chain.Build(client);
    }
}
