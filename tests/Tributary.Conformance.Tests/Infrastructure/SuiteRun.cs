using Xunit.Abstractions;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tributary.Conformance.Tests.Infrastructure;

/// <summary>One check from a scenario's <c>checks.json</c>.</summary>
internal sealed record Check(string Id, string Status, string? ErrorMessage, string Details);

/// <summary>One scenario's results: the folder the suite wrote for it and its checks (none if it wrote no checks.json).</summary>
internal sealed partial record ScenarioResult(string Scenario, string Directory, bool HasChecksFile, IReadOnlyList<Check> Checks)
{
    public int Count(string status) => Checks.Count(c => c.Status == status);

    /// <summary>Why this scenario does not count as passed: no checks.json, no SUCCESS check, or any FAILURE.</summary>
    public IEnumerable<string> Problems()
    {
        if (!HasChecksFile)
        {
            yield return $"{Scenario}: no checks.json (skipped or crashed)";
            yield break;
        }

        if (Count("SUCCESS") == 0)
        {
            yield return $"{Scenario}: no SUCCESS check (a vacuous pass)";
        }

        foreach (var failure in Checks.Where(c => c.Status == "FAILURE"))
        {
            yield return $"{Scenario}: FAILURE {failure.Id}: {failure.ErrorMessage}\n    details: {Excerpt(failure.Details)}";
        }
    }

    /// <summary>The details of the check with <paramref name="id"/> as JSON text (empty if absent).</summary>
    public string DetailsOf(string id) => Checks.FirstOrDefault(c => c.Id == id)?.Details ?? "";

    /// <summary>Reads a folder the suite wrote, named <c>server-SCENARIO-TIMESTAMP</c> (or results of the scenario <paramref name="name"/>).</summary>
    public static ScenarioResult Read(string directory, string? name = null)
    {
        name ??= TimestampSuffix().Replace(Path.GetFileName(directory), "");
        name = name.StartsWith("server-", StringComparison.Ordinal) ? name["server-".Length..] : name;
        var file = Path.Combine(directory, "checks.json");
        if (!File.Exists(file))
        {
            return new ScenarioResult(name, directory, false, []);
        }

        using var json = JsonDocument.Parse(File.ReadAllText(file));
        var checks = json.RootElement.EnumerateArray()
            .Select(c => new Check(
                c.GetProperty("id").GetString() ?? "",
                c.GetProperty("status").GetString() ?? "",
                c.TryGetProperty("errorMessage", out var message) ? message.GetString() : null,
                c.TryGetProperty("details", out var details) ? details.GetRawText() : ""))
            .ToList();
        return new ScenarioResult(name, directory, true, checks);
    }

    private static string Excerpt(string text) => text.Length <= 600 ? text : text[..600] + "…";

    [GeneratedRegex(@"-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")]
    private static partial Regex TimestampSuffix();
}

/// <summary>The outcome of one run of the suite's CLI.</summary>
internal sealed record SuiteRun(
    SuiteVersion Suite,
    string CommandLine,
    int ExitCode,
    string Output,
    string OutputDirectory,
    int? AnnouncedScenarios,
    IReadOnlyList<ScenarioResult> Scenarios)
{
    public ScenarioResult Scenario(string name) =>
        Scenarios.SingleOrDefault(s => s.Scenario == name) ?? throw new InvalidOperationException($"scenario {name} was not run\n{Summary()}");

    /// <summary>One line per scenario with its check counts, and the totals.</summary>
    public string Summary()
    {
        var text = new StringBuilder();
        text.AppendLine($"suite {Suite}: {CommandLine}");
        foreach (var s in Scenarios)
        {
            text.AppendLine($"  {s.Scenario}: {s.Count("SUCCESS")} success, {s.Count("FAILURE")} failure, {s.Count("WARNING")} warning");
        }

        var passed = Scenarios.Count(s => !s.Problems().Any());
        text.AppendLine($"  scenarios: {passed} of {Scenarios.Count} passed; checks: {Scenarios.Sum(s => s.Count("SUCCESS"))} success, " +
            $"{Scenarios.Sum(s => s.Count("FAILURE"))} failure, {Scenarios.Sum(s => s.Count("WARNING"))} warning; exit code {ExitCode}");
        return text.ToString();
    }

    /// <summary>
    /// Asserts that exactly <paramref name="expectedScenarios"/> scenarios ran and each passed (at least one SUCCESS, no FAILURE);
    /// removes the results folder when they did, and names it in the failure message when they did not.
    /// </summary>
    public void AssertAllPassed(int expectedScenarios, ITestOutputHelper output)
    {
        output.WriteLine(Summary());
        var problems = Scenarios.SelectMany(s => s.Problems()).ToList();
        if (AnnouncedScenarios is { } announced && announced != Scenarios.Count)
        {
            problems.Add($"the suite announced {announced} scenarios but wrote results for {Scenarios.Count}");
        }

        if (Scenarios.Count != expectedScenarios)
        {
            problems.Add($"expected {expectedScenarios} scenarios, got {Scenarios.Count}: {string.Join(", ", Scenarios.Select(s => s.Scenario))}");
        }

        if (problems.Count == 0 && ExitCode != 0)
        {
            problems.Add($"every check passed but the suite exited with {ExitCode}");
        }

        Assert.True(problems.Count == 0, $"{string.Join('\n', problems)}\n\n{Summary()}\nresults kept in {OutputDirectory}\n\nsuite output:\n{Output}");
        Directory.Delete(OutputDirectory, recursive: true);
    }
}
