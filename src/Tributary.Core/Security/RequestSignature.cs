using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Tributary.Core.Security;

/// <summary>
/// Tributary's HMAC-SHA256 request signature, <c>t=&lt;unix seconds&gt;,v1=&lt;hex&gt;</c>: the MAC of the timestamp, the
/// signed parts and the body, joined with '.'. Webhooks into Tributary sign <c>t.body</c>; HTTP sources sign their
/// calls to an API with <c>t.METHOD.path_and_query.body</c>.
/// </summary>
public static class RequestSignature
{
    /// <summary>The header the signature goes in by default.</summary>
    public const string DefaultHeader = "X-Tributary-Signature";

    /// <summary>The MAC of <c>timestamp.part1.part2....body</c> (each part and the timestamp as UTF-8) with <paramref name="key"/>.</summary>
    public static byte[] Compute(byte[] key, string timestamp, ReadOnlySpan<byte> body, params ReadOnlySpan<string> parts)
    {
        using var mac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        mac.AppendData(Encoding.UTF8.GetBytes(timestamp + "."));
        foreach (var part in parts)
        {
            mac.AppendData(Encoding.UTF8.GetBytes(part + "."));
        }

        mac.AppendData(body);
        return mac.GetHashAndReset();
    }

    /// <summary>The header value for a signature made at <paramref name="unixSeconds"/> over <c>t.METHOD.path_and_query.body</c>.</summary>
    public static string Sign(byte[] key, long unixSeconds, string method, string pathAndQuery, ReadOnlySpan<byte> body)
    {
        var timestamp = unixSeconds.ToString(CultureInfo.InvariantCulture);
        return $"t={timestamp},v1={Convert.ToHexStringLower(Compute(key, timestamp, body, method, pathAndQuery))}";
    }
}
