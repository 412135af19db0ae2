using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tributary.Core.Security;

/// <summary>Certificates from PEM files, as configurations and command lines name them.</summary>
public static class PemFiles
{
    /// <summary>A certificate with its private key: from <paramref name="keyFile"/>, or from the certificate's own file when it holds the key too.</summary>
    public static X509Certificate2 Certificate(string certificateFile, string? keyFile) => X509Certificate2.CreateFromPemFile(certificateFile, keyFile);

    /// <summary>Every certificate of a PEM bundle (certificate authorities); a file with none is a <see cref="CryptographicException"/>.</summary>
    public static X509Certificate2Collection Authorities(string file)
    {
        var bundle = new X509Certificate2Collection();
        bundle.ImportFromPemFile(file);
        return bundle.Count > 0 ? bundle : throw new CryptographicException($"'{file}' holds no certificate");
    }
}
