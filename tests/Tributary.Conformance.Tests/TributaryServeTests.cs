using Tributary.Conformance.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tributary.Conformance.Tests;

/// <summary>The scenarios that need no fixtures, against the real <c>tributary serve</c> (demo data), with both suite versions.</summary>
public sealed class TributaryServeTests(TributaryServeFixture server, ITestOutputHelper output) : IClassFixture<TributaryServeFixture>
{
    [Theory]
    [InlineData("0.1.16", "server-initialize", null)]
    [InlineData("0.1.16", "tools-list", null)]
    [InlineData("0.1.16", "resources-list", null)]
    [InlineData("0.1.16", "dns-rebinding-protection", null)]
    [InlineData("0.1.16", "server-sse-multiple-streams", null)]
    [InlineData("0.2.0-alpha.12", "server-initialize", null)]
    [InlineData("0.2.0-alpha.12", "tools-list", null)]
    [InlineData("0.2.0-alpha.12", "resources-list", null)]
    [InlineData("0.2.0-alpha.12", "dns-rebinding-protection", null)]
    [InlineData("0.2.0-alpha.12", "server-sse-multiple-streams", null)]
    [InlineData("0.2.0-alpha.12", "tools-list", "2026-07-28")]
    [InlineData("0.2.0-alpha.12", "resources-list", "2026-07-28")]
    [InlineData("0.2.0-alpha.12", "dns-rebinding-protection", "2026-07-28")]
    [InlineData("0.2.0-alpha.12", "server-sse-multiple-streams", "2026-07-28")]
    public async Task Fixture_free_scenario_passes_against_tributary_serve(string version, string scenario, string? specVersion)
    {
        string[] arguments = specVersion is null ? ["--scenario", scenario] : ["--scenario", scenario, "--spec-version", specVersion];
        var run = await ConformanceSuite.RunServerAsync(SuiteVersion.Get(version), server.Url, arguments, TimeSpan.FromSeconds(60));

        run.AssertAllPassed(1, output);
    }
}
