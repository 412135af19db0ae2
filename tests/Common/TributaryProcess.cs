using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Tributary.Testing;

/// <summary>A real <c>tributary</c> process: started with arguments, its output captured, ended by its own PID.</summary>
public sealed partial class TributaryProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private TributaryProcess(Process process) => _process = process;

    /// <summary>Everything written to stdout so far.</summary>
    public string StandardOutput { get { lock (_stdout) { return _stdout.ToString(); } } }

    /// <summary>Everything written to stderr so far.</summary>
    public string StandardError { get { lock (_stderr) { return _stderr.ToString(); } } }

    /// <summary>Starts <c>dotnet tributary.dll</c> with <paramref name="arguments"/> in <paramref name="workingDirectory"/>.</summary>
    public static TributaryProcess Start(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(TestPaths.CliDll);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info };
        var wrapper = new TributaryProcess(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (wrapper._stdout) { wrapper._stdout.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (wrapper._stderr) { wrapper._stderr.AppendLine(e.Data); } } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return wrapper;
    }

    /// <summary>Runs to completion (at most <paramref name="timeout"/>) and returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit(); // flushes the redirected streams
        return _process.ExitCode;
    }

    /// <summary>Waits until the HTTP banner appears and returns the MCP endpoint it announces.</summary>
    public async Task<Uri> WaitForEndpointAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (EndpointRegex().Match(StandardError) is { Success: true } match)
            {
                return new Uri(match.Groups[1].Value);
            }

            if (_process.HasExited)
            {
                throw new InvalidOperationException($"tributary exited with {_process.ExitCode}: {StandardError}");
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"tributary announced no endpoint within {timeout}: {StandardError}");
    }

    /// <summary>Ends the process (by its own handle) if it still runs.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"MCP endpoint \(Streamable HTTP\): (\S+)")]
    private static partial Regex EndpointRegex();
}
