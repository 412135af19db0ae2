using System.CommandLine;
using System.Text.Json;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Topics;

namespace Tributary.Cli.Commands;

/// <summary>
/// <c>tributary publish</c>: appends an event to a topic, through a running server when one is named (<c>--url</c>,
/// <c>--sse</c>, <c>--ws</c>, <c>--stdio</c>), else straight into the data directory of the configuration (or the demo);
/// a running server on the same data directory wakes its readers within 250 ms.
/// </summary>
internal static class PublishCommand
{
    public static Command Create()
    {
        var config = CommonOptions.Config();
        var dataDir = new Option<string?>("--data-dir") { Description = $"Data directory of the demo (default ${CommonOptions.DataDirVariable}, else ./.tributary)" };
        var topic = new Option<string>("--topic", "-t") { Description = "The topic", Required = true };
        var type = new Option<string>("--type") { Description = "What happened, such as order.flagged", Required = true };
        var data = new Option<string>("--data", "-d") { Description = "The event's JSON payload, such as '{\"order_id\": 42}'", Required = true };
        var severity = new Option<string?>("--severity") { Description = "debug, info (default), warning, error or critical" };
        var traceId = new Option<string?>("--trace-id") { Description = "Links the event to a request or other events" };
        var target = ClientCommands.Target.Create();
        var command = new Command("publish", "Append an event to a topic, through a server (--url ...) or into the local data directory (printed back as JSON with its sequence number)") { config, dataDir, topic, type, data, severity, traceId };
        target.AddTo(command, json: false);
        command.SetAction(async (parse, cancellationToken) =>
        {
            JsonElement payload;
            try
            {
                payload = JsonElement.Parse(parse.GetValue(data)!);
            }
            catch (JsonException e)
            {
                Console.Error.WriteLine($"--data is not JSON: {e.Message}");
                return 2;
            }

            if (target.Given(parse))
            {
                return await ClientCommands.RunAsync(parse, target, async (client, _) =>
                {
                    var sequence = await client.PublishAsync(parse.GetValue(topic)!, parse.GetValue(type)!, payload, parse.GetValue(severity), cancellationToken);
                    Console.Out.WriteLine($"{{\"topic\":{JsonSerializer.Serialize(parse.GetValue(topic)!, CliJson.Default.String)},\"sequence\":{sequence}}}");
                    return 0;
                }, cancellationToken);
            }

            TributaryConfig loaded;
            var file = ConfigResolution.FindFile(parse.GetValue(config));
            try
            {
                loaded = file is null ? ConfigResolution.Demo(parse.GetValue(dataDir), new ServerConfig()) : ConfigResolution.Load(file);
            }
            catch (ConfigException e)
            {
                ConfigResolution.PrintErrors(file ?? ConfigLoader.DefaultFileName, e);
                return 2;
            }

            var registry = new TopicRegistry(loaded.Topics);
            try
            {
                var newEvent = NewEvent.Create(registry.Get(parse.GetValue(topic)!).Name, parse.GetValue(type)!, payload, parse.GetValue(severity), parse.GetValue(traceId), "cli");
                var path = Path.Combine(Path.GetFullPath(loaded.Server.DataDir, loaded.BaseDirectory), SqliteEventStore.FileName);
                await using var store = new SqliteEventStore(path, new EventBus(), registry.Retention);
                var stored = await store.AppendAsync(newEvent, cancellationToken);
                Console.Out.WriteLine($"{{\"topic\":\"{stored.Topic}\",\"sequence\":{stored.Sequence},\"time\":\"{TopicEvent.FormatTime(stored.Time)}\"}}");
                return 0;
            }
            catch (ToolException e)
            {
                Console.Error.WriteLine(e.Message);
                return 1;
            }
        });
        return command;
    }
}
