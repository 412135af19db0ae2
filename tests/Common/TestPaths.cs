namespace Tributary.Testing;

/// <summary>Where the repository and its build outputs are, found from the test's own folder.</summary>
public static class TestPaths
{
    /// <summary>A loopback TCP port that was free a moment ago.</summary>
    public static int FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>The repository root (the folder holding Tributary.slnx).</summary>
    public static string RepoRoot { get; } = FindRoot();

    /// <summary>The build configuration of the running tests (Debug or Release), read from bin/CONFIG/TFM.</summary>
    public static string Configuration { get; } =
        new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent?.Name ?? "Debug";

    /// <summary>The built CLI, <c>tributary.dll</c> (same configuration as the tests).</summary>
    public static string CliDll => Built(Path.Combine("src", "Tributary.Cli"), "tributary.dll");

    /// <summary>The <c>dotnet</c> host that runs the tests, to run built programs with.</summary>
    public static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";

    /// <summary>The built <paramref name="dll"/> of the project folder <paramref name="project"/> (relative to the root).</summary>
    public static string Built(string project, string dll)
    {
        var path = Path.Combine(RepoRoot, project, "bin", Configuration, "net10.0", dll);
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{path} is missing: build the solution (dotnet build) before running these tests");
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
