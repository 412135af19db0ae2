using System.Text.Json;
using Tributary.Conformance.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tributary.Conformance.Tests;

/// <summary>
/// The conformance suite's server scenarios against Tributary's HTTP pipeline (hybrid sessions, legacy SSE, Origin/Host
/// allowlist, body limit) serving the suite's fixtures. A scenario passes when its checks.json has at least one SUCCESS
/// and no FAILURE: the suite's own exit code and totals let scenarios without checks pass.
/// </summary>
public sealed class ConformanceHostTests(ConformanceHostFixture host, ITestOutputHelper output) : IClassFixture<ConformanceHostFixture>
{
    private static readonly TimeSpan SuiteTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Suite_0_1_16_active_suite_passes_all_30_scenarios()
    {
        var calls = FixtureCallsBefore();
        var run = await ConformanceSuite.RunServerAsync(SuiteVersion.Stable, host.Url, ["--suite", "active"], SuiteTimeout);

        run.AssertAllPassed(30, output);
        await AssertFixturesReallyCalledAsync(run, calls);
    }

    [Fact]
    public async Task Suite_0_2_0_alpha_12_default_suite_passes_all_31_scenarios()
    {
        var calls = FixtureCallsBefore();
        var run = await ConformanceSuite.RunServerAsync(SuiteVersion.Next, host.Url, [], SuiteTimeout);

        run.AssertAllPassed(31, output);
        await AssertFixturesReallyCalledAsync(run, calls);
    }

    /// <summary>The same suite at protocol 2026-07-28: no initialize, no session; the hybrid transport serves these statelessly.</summary>
    [Fact]
    public async Task Suite_0_2_0_alpha_12_at_2026_07_28_passes_all_20_applicable_scenarios()
    {
        var calls = FixtureCallsBefore();
        var run = await ConformanceSuite.RunServerAsync(SuiteVersion.Next, host.Url, ["--spec-version", "2026-07-28"], SuiteTimeout);

        run.AssertAllPassed(20, output);
        await AssertFixturesReallyCalledAsync(run, calls);
    }

    /// <summary>json-schema-2020-12 is pending in both versions (outside their default suites); run it by name.</summary>
    [Theory]
    [InlineData("0.1.16", null)]
    [InlineData("0.2.0-alpha.12", null)]
    [InlineData("0.2.0-alpha.12", "2026-07-28")]
    public async Task Pending_json_schema_2020_12_scenario_passes(string version, string? specVersion)
    {
        string[] arguments = specVersion is null
            ? ["--scenario", "json-schema-2020-12"]
            : ["--scenario", "json-schema-2020-12", "--spec-version", specVersion];
        var run = await ConformanceSuite.RunServerAsync(SuiteVersion.Get(version), host.Url, arguments, TimeSpan.FromSeconds(60));

        run.AssertAllPassed(1, output);
    }

    private (int SimpleText, int Error) FixtureCallsBefore() =>
        (host.FixtureCalls("test_simple_text"), host.FixtureCalls("test_error_handling"));

    /// <summary>
    /// tools-call-simple-text and tools-call-error also pass when the tool does not exist (the not-found error result looks
    /// right to them): require the host's log line for the call and the fixture's own text in the checks' details.
    /// </summary>
    private async Task AssertFixturesReallyCalledAsync(SuiteRun run, (int SimpleText, int Error) before)
    {
        Assert.True(await host.FixtureCalledSinceAsync("test_simple_text", before.SimpleText), "the host logged no call of test_simple_text during the run");
        Assert.True(await host.FixtureCalledSinceAsync("test_error_handling", before.Error), "the host logged no call of test_error_handling during the run");
        var simple = ToolResult(run, "tools-call-simple-text");
        Assert.Equal("This is a simple text response for testing.", simple.Text);
        var error = ToolResult(run, "tools-call-error");
        Assert.True(error.IsError, "test_error_handling did not return isError: true");
        Assert.Contains("This tool intentionally returns an error for testing", error.Text, StringComparison.Ordinal);
    }

    /// <summary>The tool result a scenario recorded in its check's details: the first text content and isError.</summary>
    private static (string? Text, bool IsError) ToolResult(SuiteRun run, string scenario)
    {
        var details = run.Scenario(scenario).DetailsOf(scenario);
        Assert.False(string.IsNullOrEmpty(details), $"{scenario} recorded no details");
        using var json = JsonDocument.Parse(details);
        var result = json.RootElement.GetProperty("result");
        var text = result.TryGetProperty("content", out var content) && content.GetArrayLength() > 0 && content[0].TryGetProperty("text", out var t) ? t.GetString() : null;
        return (text, result.TryGetProperty("isError", out var isError) && isError.ValueKind == JsonValueKind.True);
    }
}
