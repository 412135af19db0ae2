using System.Text.RegularExpressions;
using Xunit;

namespace Tributary.Testing;

/// <summary>
/// A throwaway real Redis for tests: <c>redis-server</c> (Debian's <c>redis-server</c> package; CI's <c>.ci/run</c>
/// installs it) on a free loopback port, keeping nothing on disk. Disposing it stops exactly this process.
/// </summary>
public sealed partial class RedisServer : IAsyncLifetime
{
    private const string Binary = "/usr/bin/redis-server";
    private ChildProcess? _process;

    /// <summary>The loopback port it listens on.</summary>
    public int Port { get; private set; }

    /// <summary>Its address as a StackExchange.Redis configuration string.</summary>
    public string Configuration => $"127.0.0.1:{Port}";

    public async Task InitializeAsync()
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException($"{Binary} is missing: install Debian's redis-server package (apt-get install -y redis-server)");
        }

        Port = TestPaths.FreePort();
        _process = ChildProcess.Start(
            Binary,
            ["--bind", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
            TestPaths.NewTempDirectory(),
            ReadyRegex());
        await _process.WaitForReadyAsync(TimeSpan.FromSeconds(30));
    }

    public Task DisposeAsync()
    {
        _process?.Dispose();
        return Task.CompletedTask;
    }

    [GeneratedRegex("Ready to accept connections")]
    private static partial Regex ReadyRegex();
}
