using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Tributary.Testing;

/// <summary>
/// A process started by a test: its output is collected line by line, every wait on it is bounded, and disposing it
/// kills exactly this process (by its <see cref="Process"/> object) if it is still running.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process process;
    private readonly Lock gate = new();
    private readonly StringBuilder stdout = new();
    private readonly StringBuilder stderr = new();
    private readonly Regex? readyLine;
    private readonly TaskCompletionSource<Match> ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ChildProcess(ProcessStartInfo startInfo, Regex? readyLine)
    {
        this.readyLine = readyLine;
        process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => OnLine(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(stderr, e.Data);
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"{Describe()} exited before it was ready"));
    }

    /// <summary>The command line, for messages.</summary>
    public string CommandLine => $"{process.StartInfo.FileName} {string.Join(' ', process.StartInfo.ArgumentList)}";

    /// <summary>Everything the process wrote to stdout so far.</summary>
    public string StandardOutput
    {
        get
        {
            lock (gate)
            {
                return stdout.ToString();
            }
        }
    }

    /// <summary>Everything the process wrote to stderr so far.</summary>
    public string StandardError
    {
        get
        {
            lock (gate)
            {
                return stderr.ToString();
            }
        }
    }

    /// <summary>Starts <paramref name="fileName"/>; <paramref name="readyLine"/> (matched against stdout and stderr) marks it ready.</summary>
    public static ChildProcess Start(
        string fileName,
        IEnumerable<string> arguments,
        string workingDirectory,
        Regex? readyLine = null,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                startInfo.Environment.Remove(name);
            }
            else
            {
                startInfo.Environment[name] = value;
            }
        }

        var child = new ChildProcess(startInfo, readyLine);
        child.process.Start();
        child.process.StandardInput.Close();
        child.process.BeginOutputReadLine();
        child.process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Waits for the ready line and returns its match; kills the process and throws if it does not come in time.</summary>
    public async Task<Match> WaitForReadyAsync(TimeSpan timeout)
    {
        try
        {
            return await ready.Task.WaitAsync(timeout);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            Kill();
            throw new InvalidOperationException($"{Describe()} did not become ready within {timeout.TotalSeconds:0} s ({e.Message})\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}", e);
        }
    }

    /// <summary>Waits for the process to exit and returns its exit code; kills it and throws if it runs longer than <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"{Describe()} did not finish within {timeout.TotalSeconds:0} s and was killed\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}");
        }

        // The exit is known; this returns once the redirected streams are drained (bounded, they close with the process).
        process.WaitForExit(TimeSpan.FromSeconds(10));
        return process.ExitCode;
    }

    /// <summary>Kills the process if it still runs, and releases it.</summary>
    public void Dispose()
    {
        Kill();
        process.Dispose();
    }

    private void Kill()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: false);
                process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private string Describe() => $"process {SafeId()} ({CommandLine})";

    private string SafeId()
    {
        try
        {
            return process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (InvalidOperationException)
        {
            return "?";
        }
    }

    private void OnLine(StringBuilder buffer, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (gate)
        {
            buffer.AppendLine(line);
        }

        if (readyLine?.Match(line) is { Success: true } match)
        {
            ready.TrySetResult(match);
        }
    }
}
