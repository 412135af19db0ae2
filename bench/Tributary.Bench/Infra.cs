using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Tributary.Bench;

/// <summary>Where things are: everything is found from the repository root (the folder holding Tributary.slnx).</summary>
internal sealed class RepoPaths
{
    private RepoPaths(string root) => Root = root;

    public string Root { get; }

    public string CliProject => Path.Combine(Root, "src", "Tributary.Cli", "Tributary.Cli.csproj");

    public string CliJitDll => Path.Combine(Root, "src", "Tributary.Cli", "bin", "Release", "net10.0", "tributary.dll");

    public string HelloProject => Path.Combine(Root, "bench", "Tributary.Bench.HelloServer", "Tributary.Bench.HelloServer.csproj");

    public string HelloJitDll => Path.Combine(Root, "bench", "Tributary.Bench.HelloServer", "bin", "Release", "net10.0", "hello-server.dll");

    public string Artifacts => Path.Combine(Root, "bench", "artifacts");

    public string Results => Path.Combine(Root, "bench", "results");

    /// <summary>Writes a part's report to <c>bench/results/FILE</c>, echoes it on stdout, and says where it went.</summary>
    public async Task WriteReportAsync(string file, string markdown)
    {
        Directory.CreateDirectory(Results);
        var output = Path.Combine(Results, file);
        await File.WriteAllTextAsync(output, markdown);
        Console.Out.Write(markdown);
        Console.Error.WriteLine($"wrote {output}");
    }

    /// <summary>The JIT build of Tributary (the CLI's Release output), as the parts run it.</summary>
    public ServerVariant TributaryJit => new("Tributary JIT", "dotnet", [CliJitDll], IsTributary: true);

    /// <summary>Creates a part's scratch folder in the temporary folder (delete it with <see cref="DeleteScratch"/>).</summary>
    public static string NewScratch(string part)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"tributary-bench-{part}-{Environment.ProcessId}");
        Directory.CreateDirectory(directory);
        return directory;
    }

    /// <summary>Deletes a part's scratch folder; one that is still busy is left to the temporary folder's cleaning.</summary>
    public static void DeleteScratch(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static RepoPaths Find()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Tributary.slnx")))
                {
                    return new RepoPaths(dir.FullName);
                }
            }
        }

        throw new InvalidOperationException("cannot find the repository root (a folder with Tributary.slnx) above the current directory or the benchmark's binaries");
    }

    /// <summary>Newest write time of anything under src/ that a build reads, and of the repository-wide build files.</summary>
    public DateTime NewestSourceWrite()
    {
        var newest = DateTime.MinValue;
        foreach (var file in Directory.EnumerateFiles(Path.Combine(Root, "src"), "*", SearchOption.AllDirectories))
        {
            if (file.Contains("/bin/", StringComparison.Ordinal) || file.Contains("/obj/", StringComparison.Ordinal))
            {
                continue;
            }

            newest = Max(newest, File.GetLastWriteTimeUtc(file));
        }

        foreach (var name in new[] { "Directory.Build.props", "Directory.Packages.props", "global.json" })
        {
            var file = Path.Combine(Root, name);
            if (File.Exists(file))
            {
                newest = Max(newest, File.GetLastWriteTimeUtc(file));
            }
        }

        return newest;
    }

    private static DateTime Max(DateTime a, DateTime b) => a > b ? a : b;
}

/// <summary>Runs a command to completion, capturing its output.</summary>
internal static class Shell
{
    public static async Task<(int ExitCode, string Output, TimeSpan Elapsed)> RunAsync(string command, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(command)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // Publishing from inside 'dotnet run' must not inherit the outer build's MSBuild node settings.
        info.Environment["MSBUILDNOINPROCNODE"] = null;
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var output = new StringBuilder();
        var stopwatch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            lock (output)
            {
                output.AppendLine(CultureInfo.InvariantCulture, $"(killed after {timeout.TotalSeconds:0} s)");
            }
        }

        lock (output)
        {
            return (process.ExitCode, output.ToString(), stopwatch.Elapsed);
        }
    }
}

/// <summary>Reads a process's CPU time and memory from /proc (Linux).</summary>
internal static class ProcFs
{
    private static readonly double TicksPerSecond = 100; // USER_HZ: 100 on every Linux x64 kernel in use.

    /// <summary>
    /// User plus system CPU time of <paramref name="pid"/>, or null when it cannot be read; with
    /// <paramref name="includeReapedChildren"/>, plus that of its children that ended and were waited for (cutime, cstime).
    /// </summary>
    public static TimeSpan? CpuTime(int pid, bool includeReapedChildren = false)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command name, which is in parentheses and may hold spaces.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            if (includeReapedChildren)
            {
                ticks += long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
            }

            return TimeSpan.FromSeconds(ticks / TicksPerSecond);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Busy CPU time of the whole machine (all cores, from /proc/stat), or null.</summary>
    public static TimeSpan? MachineBusy()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..].Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            // user nice system idle iowait irq softirq steal (guest time is already counted in user).
            var busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7];
            return TimeSpan.FromSeconds(busy / TicksPerSecond);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>A field of /proc/PID/status in kB (VmRSS, VmHWM), or null.</summary>
    public static long? StatusKb(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                {
                    return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }

    /// <summary>Process ids whose parent is this process.</summary>
    public static HashSet<int> Children() => Children(Environment.ProcessId);

    /// <summary>Process ids whose parent is <paramref name="parent"/>.</summary>
    public static HashSet<int> Children(int parent)
    {
        var children = new HashSet<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == parent)
                {
                    children.Add(pid);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return children;
    }
}
