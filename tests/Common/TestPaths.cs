namespace Tributary.Testing;

/// <summary>Where the repository and its build outputs are, found from the test's own folder.</summary>
public static class TestPaths
{
    /// <summary>The repository root (the folder holding Tributary.slnx).</summary>
    public static string RepoRoot { get; } = FindRoot();

    /// <summary>The built <c>tributary.dll</c> of the same configuration as the running tests.</summary>
    public static string CliDll
    {
        get
        {
            var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
            var path = Path.Combine(RepoRoot, "src", "Tributary.Cli", "bin", configuration, "net10.0", "tributary.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"build the CLI first (dotnet build): {path} is missing");
        }
    }

    /// <summary>A new empty temporary folder.</summary>
    public static string NewTempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "tributary-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Tributary.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Tributary.slnx not found above " + AppContext.BaseDirectory);
    }
}
