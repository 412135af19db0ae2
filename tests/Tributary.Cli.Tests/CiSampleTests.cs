using Tributary.Testing;

namespace Tributary.Cli.Tests;

/// <summary>samples/ci: the data-contract check a CI job runs, against a real server (the GitHub Actions workflow around it cannot run here).</summary>
public sealed class CiSampleTests
{
    private static readonly string Samples = Path.Combine(TestPaths.RepoRoot, "samples", "ci");

    [Fact]
    public async Task The_contract_check_passes_on_the_demo_fails_on_a_changed_schema_and_says_when_the_server_is_gone()
    {
        var directory = TestPaths.NewTempDirectory();
        using var server = TributaryProcess.Start(directory, null, "serve", "--http", "127.0.0.1:0", "--data-dir", DemoDatabase.DataDirectory());
        var url = (await server.WaitForEndpointAsync(TimeSpan.FromSeconds(60))).ToString();

        var holds = await CheckAsync(directory, url, null);
        Assert.True(holds.Exit == 0, holds.Error);
        Assert.Contains("data contract of 'shop' holds", holds.Output, StringComparison.Ordinal);

        var changed = Path.Combine(directory, "changed.json");
        await File.WriteAllTextAsync(changed, (await File.ReadAllTextAsync(Path.Combine(Samples, "schema-snapshot.json"))).Replace("\"total_cents\"", "\"total\"", StringComparison.Ordinal));
        var differs = await CheckAsync(directory, url, changed);
        Assert.Equal(1, differs.Exit);
        Assert.Contains("differs from", differs.Error, StringComparison.Ordinal);

        var gone = await CheckAsync(directory, $"http://127.0.0.1:{TestPaths.FreePort()}/mcp", null);
        Assert.Equal(3, gone.Exit);

        var workflow = await File.ReadAllTextAsync(Path.Combine(Samples, "data-contract.yml"));
        var stream = new YamlDotNet.RepresentationModel.YamlStream();
        stream.Load(new StringReader(workflow));
        Assert.Contains("samples/ci/check.sh", workflow, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Output, string Error)> CheckAsync(string directory, string url, string? snapshot)
    {
        var environment = new Dictionary<string, string?>
        {
            ["TRIBUTARY_URL"] = url,
            ["TRIBUTARY_BIN"] = $"{TestPaths.DotnetHost} {TestPaths.CliDll}",
            ["SNAPSHOT"] = snapshot,
            ["TRIBUTARY_API_KEY"] = null,
        };
        using var check = ChildProcess.Start("bash", [Path.Combine(Samples, "check.sh")], directory, null, environment);
        var exit = await check.WaitForExitAsync(TimeSpan.FromSeconds(120));
        return (exit, check.StandardOutput, check.StandardError);
    }
}
