using System.Text.RegularExpressions;
using Tributary.Testing;

namespace Tributary.Conformance.Tests.Infrastructure;

/// <summary>The conformance host (Tributary's HTTP pipeline with the suite's fixtures), started once for a test class.</summary>
public sealed partial class ConformanceHostFixture : IAsyncLifetime
{
    private ChildProcess? host;

    /// <summary>The Streamable HTTP endpoint.</summary>
    public string Url { get; private set; } = "";

    public async Task InitializeAsync()
    {
        await ConformanceSuite.EnsureInstalledAsync();
        host = ChildProcess.Start(
            TestPaths.DotnetHost,
            [TestPaths.Built(Path.Combine("tests", "Tributary.ConformanceHost"), "Tributary.ConformanceHost.dll"), "--port", "0", "--parent-pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            TestPaths.RepoRoot,
            ListeningLine());
        var ready = await host.WaitForReadyAsync(TimeSpan.FromSeconds(60));
        Url = ready.Groups[1].Value;
    }

    /// <summary>How often the host has logged a call of the fixture tool <paramref name="tool"/> (the SDK matched the tool and ran it).</summary>
    public int FixtureCalls(string tool) =>
        Regex.Count(host?.StandardError ?? "", Regex.Escape($"\"Fixture tool {tool} called\""));

    /// <summary>Waits (at most 5 s, the console logger writes asynchronously) until <paramref name="tool"/> has more calls than <paramref name="before"/>.</summary>
    public async Task<bool> FixtureCalledSinceAsync(string tool, int before)
    {
        for (var i = 0; i < 50 && FixtureCalls(tool) <= before; i++)
        {
            await Task.Delay(100);
        }

        return FixtureCalls(tool) > before;
    }

    public Task DisposeAsync()
    {
        host?.Dispose();
        return Task.CompletedTask;
    }

    [GeneratedRegex(@"^listening on (http://127\.0\.0\.1:\d+/mcp)$")]
    private static partial Regex ListeningLine();
}

/// <summary>The real <c>tributary serve</c> in demo mode, on a free port, with its data directory in a temporary folder.</summary>
public sealed partial class TributaryServeFixture : IAsyncLifetime
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "tributary-conformance", "serve-" + Guid.NewGuid().ToString("N"));
    private ChildProcess? server;

    /// <summary>The Streamable HTTP endpoint, as the banner prints it.</summary>
    public string Url { get; private set; } = "";

    public async Task InitializeAsync()
    {
        await ConformanceSuite.EnsureInstalledAsync();
        Directory.CreateDirectory(directory);

        // Run in the empty folder, so demo mode applies whatever the caller's environment.
        server = TributaryProcess.Start(directory, null, "serve", "--http", "127.0.0.1:0", "--data-dir", Path.Combine(directory, "data"));
        Url = (await server.WaitForEndpointAsync(TimeSpan.FromSeconds(60))).ToString();
    }

    public Task DisposeAsync()
    {
        server?.Dispose();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the folder is under the temporary directory.
        }

        return Task.CompletedTask;
    }
}
