using System.CommandLine;

namespace Tributary.Cli.Commands;

/// <summary>Options shared by the commands.</summary>
internal static class CommonOptions
{
    public const string ConfigVariable = "TRIBUTARY_CONFIG";
    public const string DataDirVariable = "TRIBUTARY_DATA_DIR";

    public static Option<string?> Config() => new("--config", "-c")
    {
        Description = $"Configuration file (default: ${ConfigVariable}, else ./tributary.yaml if present, else the built-in demo)",
    };
}
