using Tributary.Testing;

namespace Tributary.Cli.Tests;

public sealed class CheckCommandTests
{
    [Fact]
    public async Task Lists_every_error_and_exits_2()
    {
        var dir = TestPaths.NewTempDirectory();
        await File.WriteAllTextAsync(Path.Combine(dir, "tributary.yaml"), """
            server:
              http: 0.0.0.0:80
            sources:
              shop:
                kind: sqlit
              logs:
                kind: sqlite
                path: ./missing.db
            """);

        using var process = TributaryProcess.Start(dir, null, "check");
        var exit = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(2, exit);
        Assert.Contains("3 configuration errors", process.StandardError, StringComparison.Ordinal);
        Assert.Contains("sources.shop.kind (line 5): unknown provider 'sqlit' (known: http, postgres, sqlite)", process.StandardError, StringComparison.Ordinal);
        Assert.Contains("server.http (line 2): '0.0.0.0:80' is not a loopback address", process.StandardError, StringComparison.Ordinal);
        Assert.Contains("sources.logs.path: no file at", process.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Accepts_a_valid_file_given_by_flag()
    {
        var database = DemoDatabase.Copy();
        var dir = TestPaths.NewTempDirectory();
        var file = Path.Combine(dir, "custom.yaml");
        await File.WriteAllTextAsync(file, $"sources:\n  shop:\n    kind: sqlite\n    path: {database}\n");

        using var process = TributaryProcess.Start(dir, null, "check", "--config", file);

        Assert.Equal(0, await process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("ok (1 source: shop (sqlite))", process.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_refuses_to_start_on_the_same_errors()
    {
        var dir = TestPaths.NewTempDirectory();
        await File.WriteAllTextAsync(Path.Combine(dir, "tributary.yaml"), "sources:\n  shop:\n    kind: sqlit\n");

        using var process = TributaryProcess.Start(dir, null, "serve");

        Assert.Equal(2, await process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("unknown provider 'sqlit'", process.StandardError, StringComparison.Ordinal);
    }
}
