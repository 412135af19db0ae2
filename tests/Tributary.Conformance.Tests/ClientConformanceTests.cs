using Tributary.Conformance.Tests.Infrastructure;
using Tributary.Testing;
using Xunit.Abstractions;

namespace Tributary.Conformance.Tests;

/// <summary>
/// The suite's client scenarios (0.1.16: 26, 18 of them OAuth) with Tributary.Client as the client under test
/// (tests/Tributary.ConformanceClient), one scenario at a time, no protocol revision pinned for any of them. A scenario
/// passes when its checks.json has at least one SUCCESS and no FAILURE, and the suite, which counts warnings and a client
/// that failed where it should not have, exits with 0.
/// </summary>
public sealed class ClientConformanceTests(ITestOutputHelper output)
{
    /// <summary>Scenarios whose server misbehaves on purpose: the client must refuse, and say why.</summary>
    private static readonly HashSet<string> MustRefuse = ["auth/resource-mismatch", "auth/scope-retry-limit"];

    private static readonly string[] AllScenarios =
    [
        "initialize", "tools_call", "elicitation-sep1034-client-defaults", "sse-retry",
        "auth/metadata-default", "auth/metadata-var1", "auth/metadata-var2", "auth/metadata-var3", "auth/basic-cimd",
        "auth/scope-from-www-authenticate", "auth/scope-from-scopes-supported", "auth/scope-omitted-when-undefined",
        "auth/scope-step-up", "auth/scope-retry-limit", "auth/token-endpoint-auth-basic", "auth/token-endpoint-auth-post",
        "auth/token-endpoint-auth-none", "auth/pre-registration", "auth/2025-03-26-oauth-metadata-backcompat",
        "auth/2025-03-26-oauth-endpoint-fallback", "auth/resource-mismatch", "auth/offline-access-scope",
        "auth/offline-access-not-supported", "auth/client-credentials-jwt", "auth/client-credentials-basic",
        "auth/cross-app-access-complete-flow",
    ];

    public static TheoryData<string> Scenarios => [.. AllScenarios];

    [Fact]
    public async Task The_theory_runs_every_client_scenario_of_0_1_16()
    {
        var listed = await ConformanceSuite.ListClientScenariosAsync(SuiteVersion.Stable);

        Assert.Equal(26, listed.Count);
        Assert.Equal(listed.Order(StringComparer.Ordinal), AllScenarios.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Client_scenario_passes_with_tributary_client(string scenario)
    {
        var run = await ConformanceSuite.RunClientAsync(SuiteVersion.Stable, ClientCommand, scenario, TimeSpan.FromSeconds(90));

        // What the client itself said (the suite keeps its output beside checks.json): done, or the refusal expected of it.
        var result = run.Scenario(scenario);
        var said = File.ReadAllText(Path.Combine(result.Directory, "stdout.txt")) + File.ReadAllText(Path.Combine(result.Directory, "stderr.txt"));
        output.WriteLine($"client output:\n{said}");
        Assert.Contains(MustRefuse.Contains(scenario) ? $"{scenario}: TributaryAuthenticationException" : $"{scenario}: done", said, StringComparison.Ordinal);
        run.AssertAllPassed(1, output);
    }

    /// <summary>How the suite starts the client (it splits the command at spaces and appends the server URL).</summary>
    private static string ClientCommand
    {
        get
        {
            var command = $"{TestPaths.DotnetHost} {TestPaths.Built(Path.Combine("tests", "Tributary.ConformanceClient"), "Tributary.ConformanceClient.dll")}";
            Assert.False(command.Count(c => c == ' ') > 1, $"the suite splits its --command at spaces, so these paths must have none: {command}");
            return command;
        }
    }
}
