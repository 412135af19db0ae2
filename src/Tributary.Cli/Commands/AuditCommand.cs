using System.CommandLine;
using System.Text.Json;
using Tributary.Core.Configuration;
using Tributary.Server.State;

namespace Tributary.Cli.Commands;

/// <summary><c>tributary audit</c>: prints the newest writes from the audit log in the data directory's state.db.</summary>
internal static class AuditCommand
{
    public static Command Create()
    {
        var config = CommonOptions.Config();
        var dataDir = new Option<string?>("--data-dir") { Description = $"Data directory of the demo (default ${CommonOptions.DataDirVariable}, else ./.tributary); a configuration's own data_dir wins" };
        var limit = new Option<int>("--limit", "-n") { Description = "How many entries, newest first", DefaultValueFactory = _ => 50 };
        var source = new Option<string?>("--source") { Description = "Only writes to this source" };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        var command = new Command("audit", "Show the newest writes from the audit log (who, which tool, which row, digests before and after)") { config, dataDir, limit, source, json };
        command.SetAction(parse =>
        {
            string directory;
            try
            {
                var file = ConfigResolution.FindFile(parse.GetValue(config));
                if (file is null)
                {
                    directory = Path.GetFullPath(parse.GetValue(dataDir) ?? Environment.GetEnvironmentVariable(CommonOptions.DataDirVariable) ?? new ServerConfig().DataDir);
                }
                else
                {
                    var loaded = ConfigResolution.Load(file);
                    directory = Path.GetFullPath(loaded.Server.DataDir, loaded.BaseDirectory);
                }
            }
            catch (ConfigException e)
            {
                ConfigResolution.PrintErrors(parse.GetValue(config) ?? ConfigLoader.DefaultFileName, e);
                return 2;
            }

            if (parse.GetValue(limit) is < 1 or > 100_000)
            {
                Console.Error.WriteLine("--limit must be between 1 and 100000");
                return 2;
            }

            var path = Path.Combine(directory, StateStore.FileName);
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"no writes recorded yet: {path} does not exist");
                return 0;
            }

            using var store = new StateStore(path, TimeSpan.FromDays(30));
            var entries = store.ReadAudit(parse.GetValue(limit), parse.GetValue(source));
            if (parse.GetValue(json))
            {
                using var stdout = Console.OpenStandardOutput();
                using (var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true }))
                {
                    AuditJson.Write(entries, writer);
                }

                Console.Out.WriteLine();
                return 0;
            }

            Console.Out.WriteLine($"{"id",6}  {"at (UTC)",-24}  {"principal",-12}  {"tool",-16}  {"source.table",-20}  {"rows",4}  key");
            foreach (var e in entries)
            {
                Console.Out.WriteLine($"{e.Id,6}  {e.At.UtcDateTime:yyyy-MM-dd HH:mm:ss.fff}Z  {e.Principal,-12}  {e.Tool,-16}  {$"{e.Source}.{e.Table}",-20}  {e.Rows,4}  {e.Key}");
            }

            return 0;
        });
        return command;
    }
}
