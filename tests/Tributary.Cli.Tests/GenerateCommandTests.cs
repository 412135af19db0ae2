using System.Text.Json;
using Tributary.Testing;

namespace Tributary.Cli.Tests;

/// <summary>
/// <c>tributary generate</c> from the demo's live schema, against golden files in Golden/ (the C# one is compiled with
/// this project, so the generated code is checked to build). Regenerate them with the command in the failure message.
/// </summary>
public sealed class GenerateCommandTests
{
    private static readonly string Golden = Path.Combine(TestPaths.RepoRoot, "tests", "Tributary.Cli.Tests", "Golden");

    [Theory]
    [InlineData("prisma", "schema.prisma")]
    [InlineData("typescript", "models.ts")]
    [InlineData("csharp", "Models.cs")]
    [InlineData("jsonschema", "schema.json")]
    public async Task Models_from_the_live_schema_match_the_golden_files_every_time(string target, string file)
    {
        var directory = TestPaths.NewTempDirectory();
        var stdio = $"\"{TestPaths.DotnetHost}\" \"{TestPaths.CliDll}\" serve --stdio --data-dir \"{DemoDatabase.DataDirectory()}\"";
        for (var run = 0; run < 2; run++)
        {
            using var process = TributaryProcess.Start(directory, null, "generate", "--source", "shop", "--target", target, "--out", Path.Combine(directory, $"run{run}"), "--stdio", stdio);
            Assert.Equal(0, await process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        }

        var first = await File.ReadAllTextAsync(Path.Combine(directory, "run0", file));
        Assert.Equal(first, await File.ReadAllTextAsync(Path.Combine(directory, "run1", file)));
        Assert.True(
            first == await File.ReadAllTextAsync(Path.Combine(Golden, file)),
            $"{file} differs from the golden file; if the change is intended: tributary generate --source shop --target {target} --out tests/Tributary.Cli.Tests/Golden --stdio \"tributary serve --stdio\"");
    }

    [Fact]
    public void The_golden_models_carry_nullability_defaults_and_relations()
    {
        var prisma = File.ReadAllText(Path.Combine(Golden, "schema.prisma"));
        Assert.Contains("currency    String        @default(\"USD\")", prisma, StringComparison.Ordinal);
        Assert.Contains("shipped_at  String?", prisma, StringComparison.Ordinal);
        Assert.Contains("@relation(\"order_items_order_id\", fields: [order_id], references: [id])", prisma, StringComparison.Ordinal);
        Assert.Contains("order_items order_items[] @relation(\"order_items_order_id\")", prisma, StringComparison.Ordinal);

        var schema = JsonDocument.Parse(File.ReadAllText(Path.Combine(Golden, "schema.json"))).RootElement.GetProperty("$defs").GetProperty("orders");
        Assert.Equal("USD", schema.GetProperty("properties").GetProperty("currency").GetProperty("default").GetString());
        Assert.Equal(["string", "null"], schema.GetProperty("properties").GetProperty("shipped_at").GetProperty("type").EnumerateArray().Select(t => t.GetString()));
        Assert.DoesNotContain("currency", schema.GetProperty("required").EnumerateArray().Select(r => r.GetString()));

        // The generated C# compiles with this project: its types are here.
        var order = new Tributary.Models.Orders { Id = 1, CustomerId = 2, Status = "paid", TotalCents = 100, CreatedAt = "2026-01-01" };
        Assert.Null(order.ShippedAt);
    }

    [Fact]
    public async Task A_bad_target_is_a_usage_error()
    {
        using var process = TributaryProcess.Start(TestPaths.NewTempDirectory(), null, "generate", "--source", "shop", "--target", "cobol", "--stdio", $"\"{TestPaths.DotnetHost}\" \"{TestPaths.CliDll}\" serve --stdio --data-dir \"{DemoDatabase.DataDirectory()}\"");
        Assert.Equal(2, await process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("--target must be", process.StandardError, StringComparison.Ordinal);
    }
}
