using Tributary.Core.Configuration;

namespace Tributary.Server.Http;

/// <summary>The allowlists and limits <see cref="HttpSafetyMiddleware"/> enforces.</summary>
public sealed record HttpSafetyOptions
{
    /// <summary>Host names always accepted: the loopback names.</summary>
    public static readonly IReadOnlyList<string> LoopbackHosts = ["localhost", "127.0.0.1", "[::1]"];

    /// <summary>Host names accepted in <c>Host</c> and in an <c>Origin</c> on the server's own port; default the loopback names.</summary>
    public IReadOnlySet<string> AllowedHosts { get; init; } = new HashSet<string>(LoopbackHosts, StringComparer.OrdinalIgnoreCase);

    /// <summary>Whole origins accepted whatever their port; default none.</summary>
    public IReadOnlySet<string> AllowedOrigins { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Largest request body in bytes; default 1 MiB.</summary>
    public long MaxRequestBytes { get; init; } = ServerConfig.DefaultMaxRequestBytes;

    /// <summary>The options for a server configuration.</summary>
    public static HttpSafetyOptions From(ServerConfig server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return new HttpSafetyOptions
        {
            AllowedHosts = new HashSet<string>(LoopbackHosts.Concat(server.AllowedHosts), StringComparer.OrdinalIgnoreCase),
            AllowedOrigins = new HashSet<string>(server.AllowedOrigins.Select(o => o.TrimEnd('/')), StringComparer.OrdinalIgnoreCase),
            MaxRequestBytes = server.MaxRequestBytes,
        };
    }
}
