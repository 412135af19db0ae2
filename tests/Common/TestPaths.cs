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

    /// <summary>
    /// A new empty temporary folder under this test process's own scratch folder, which is deleted when the process exits;
    /// scratch folders of test processes that are gone (killed, crashed) are deleted by the next one.
    /// </summary>
    public static string NewTempDirectory()
    {
        var path = Path.Combine(Scratch.Value, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    private static readonly Lazy<string> Scratch = new(() =>
    {
        var root = Path.Combine(Path.GetTempPath(), "tributary-tests");
        Directory.CreateDirectory(root);
        foreach (var folder in Directory.EnumerateDirectories(root))
        {
            // run-PID: a test process's folder; anything else is left over from before folders had owners.
            var name = Path.GetFileName(folder);
            var gone = name.StartsWith("run-", StringComparison.Ordinal) && int.TryParse(name.AsSpan(4), out var pid)
                ? !Directory.Exists($"/proc/{pid}")
                : Directory.GetLastWriteTimeUtc(folder) < DateTime.UtcNow.AddHours(-2);
            if (gone)
            {
                Delete(folder);
            }
        }

        var own = Path.Combine(root, $"run-{Environment.ProcessId}");
        Delete(own);
        Directory.CreateDirectory(own);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Delete(own);
        return own;
    });

    private static void Delete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // In use or already gone: the next test process tries again.
        }
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
