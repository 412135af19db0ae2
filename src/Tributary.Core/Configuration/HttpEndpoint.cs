using System.Net;

namespace Tributary.Core.Configuration;

/// <summary>An HTTP bind address (<c>host:port</c>) and whether it is loopback.</summary>
/// <param name="Address">The IP address to bind.</param>
/// <param name="Port">The TCP port (0 picks a free one).</param>
public sealed record HttpEndpoint(IPAddress Address, int Port)
{
    /// <summary>True when only this machine can connect.</summary>
    public bool IsLoopback => IPAddress.IsLoopback(Address);

    /// <summary>Parses <c>127.0.0.1:8080</c>, <c>[::1]:8080</c> or <c>localhost:8080</c>.</summary>
    public static bool TryParse(string text, out HttpEndpoint endpoint, out string problem)
    {
        ArgumentNullException.ThrowIfNull(text);
        endpoint = new HttpEndpoint(IPAddress.Loopback, 0);
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 0 or > 65535)
        {
            problem = $"'{text}' is not host:port (such as 127.0.0.1:8080 or [::1]:8080)";
            return false;
        }

        var host = text[..colon].Trim('[', ']');
        if (host == "localhost")
        {
            endpoint = new HttpEndpoint(IPAddress.Loopback, port);
        }
        else if (IPAddress.TryParse(host, out var address))
        {
            endpoint = new HttpEndpoint(address, port);
        }
        else
        {
            problem = $"'{host}' is not an IP address: bind an address such as 127.0.0.1 or [::1]";
            return false;
        }

        problem = "";
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{Address}]:{Port}" : $"{Address}:{Port}";
}
