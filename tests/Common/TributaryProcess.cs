using System.Text.RegularExpressions;

namespace Tributary.Testing;

/// <summary>Starts the real <c>tributary</c> command as a child process.</summary>
public static partial class TributaryProcess
{
    /// <summary>Runs <c>tributary ARGS</c> in <paramref name="workingDirectory"/>; its HTTP banner (if any) marks it ready.</summary>
    /// <remarks>The caller's TRIBUTARY_* variables are removed unless <paramref name="environment"/> sets them.</remarks>
    public static ChildProcess Start(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var variables = new Dictionary<string, string?> { ["TRIBUTARY_CONFIG"] = null, ["TRIBUTARY_DATA_DIR"] = null, ["TRIBUTARY_API_KEY"] = null };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            variables[key] = value;
        }

        return ChildProcess.Start(TestPaths.DotnetHost, [TestPaths.CliDll, .. arguments], workingDirectory, Banner(), variables);
    }

    /// <summary>Waits for the banner and returns the Streamable HTTP endpoint it announces.</summary>
    public static async Task<Uri> WaitForEndpointAsync(this ChildProcess process, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(process);
        return new Uri((await process.WaitForReadyAsync(timeout)).Groups[1].Value);
    }

    [GeneratedRegex(@"MCP endpoint \(Streamable HTTP\): (http://\S+/mcp)")]
    public static partial Regex Banner();
}
