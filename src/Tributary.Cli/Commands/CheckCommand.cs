using System.CommandLine;
using Tributary.Core.Configuration;

namespace Tributary.Cli.Commands;

/// <summary><c>tributary check</c>: validates a configuration and lists every error; exit code 2 when there are any.</summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var config = CommonOptions.Config();
        var command = new Command("check", "Validate a configuration file and print every error") { config };
        command.SetAction(parse =>
        {
            var file = ConfigResolution.FindFile(parse.GetValue(config));
            if (file is null)
            {
                Console.Error.WriteLine($"no configuration file: pass --config FILE, set {CommonOptions.ConfigVariable}, or create ./{ConfigLoader.DefaultFileName}");
                return 2;
            }

            try
            {
                var loaded = ConfigResolution.Load(file);
                var tools = loaded.Tools.Count == 0 ? "" : $"; {loaded.Tools.Count} tool{(loaded.Tools.Count == 1 ? "" : "s")}: {string.Join(", ", loaded.Tools.Select(t => t.Name))}";
                Console.Out.WriteLine($"{file}: ok ({loaded.Sources.Count} source{(loaded.Sources.Count == 1 ? "" : "s")}: {string.Join(", ", loaded.Sources.Select(s => $"{s.Name} ({s.Kind}{(s.Writable ? ", writable" : "")})"))}{tools})");
                return 0;
            }
            catch (ConfigException e)
            {
                ConfigResolution.PrintErrors(file, e);
                return 2;
            }
        });
        return command;
    }
}
