using Tributary.Core.Configuration;
using Tributary.Server.Demo;
using Tributary.Server.Hosting;

namespace Tributary.Cli.Commands;

/// <summary>Finds the configuration to use: --config, then $TRIBUTARY_CONFIG, then ./tributary.yaml, else the demo.</summary>
internal static class ConfigResolution
{
    /// <summary>The configuration file that applies, or null for demo mode.</summary>
    public static string? FindFile(string? option)
    {
        if (!string.IsNullOrEmpty(option))
        {
            return option;
        }

        if (Environment.GetEnvironmentVariable(CommonOptions.ConfigVariable) is { Length: > 0 } fromEnvironment)
        {
            return fromEnvironment;
        }

        return File.Exists(ConfigLoader.DefaultFileName) ? ConfigLoader.DefaultFileName : null;
    }

    /// <summary>Loads and validates the file (throws <see cref="ConfigException"/> with every error).</summary>
    public static TributaryConfig Load(string file) => new ConfigLoader(SourceProviders.All).LoadFile(file);

    /// <summary>The demo configuration, with the data directory from the flag, $TRIBUTARY_DATA_DIR or the default.</summary>
    public static TributaryConfig Demo(string? dataDir, ServerConfig server) =>
        DemoMode.CreateConfig(dataDir ?? Environment.GetEnvironmentVariable(CommonOptions.DataDirVariable) ?? server.DataDir, server);

    /// <summary>Prints every configuration error to stderr.</summary>
    public static void PrintErrors(string file, ConfigException error)
    {
        Console.Error.WriteLine($"{file}: {error.Errors.Count} configuration error{(error.Errors.Count == 1 ? "" : "s")}:");
        foreach (var e in error.Errors)
        {
            Console.Error.WriteLine($"  {e}");
        }
    }
}
