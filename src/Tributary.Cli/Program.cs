using System.CommandLine;
using Tributary.Cli.Commands;

var root = new RootCommand("Tributary: connects AI assistants to live data over the Model Context Protocol.")
{
    ServeCommand.Create(),
    CheckCommand.Create(),
    AuditCommand.Create(),
    PublishCommand.Create(),
    KeysCommand.Create(),
};
foreach (var command in ClientCommands.Create())
{
    root.Subcommands.Add(command);
}

return await root.Parse(args).InvokeAsync();
