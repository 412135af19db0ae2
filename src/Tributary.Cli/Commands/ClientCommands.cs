using System.CommandLine;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Spectre.Console;
using Tributary.Client;
using Tributary.Core.Security;

namespace Tributary.Cli.Commands;

/// <summary>
/// The client commands: <c>sources</c>, <c>tools</c>, <c>call</c>, <c>schema</c>, <c>query</c>, <c>read</c>,
/// <c>events</c>, <c>subscribe</c> against a running server (<c>--url</c>, <c>--sse</c>, <c>--ws</c> or
/// <c>--stdio "command"</c>, else <c>$TRIBUTARY_URL</c>), with <c>--token</c> / <c>--api-key</c> (or
/// <c>$TRIBUTARY_TOKEN</c> / <c>$TRIBUTARY_API_KEY</c>). Tables for people, <c>--json</c> for scripts. Exit codes: 0
/// success, 1 tool error, 2 usage, 3 connection or authentication.
/// </summary>
internal static class ClientCommands
{
    public const string UrlVariable = "TRIBUTARY_URL";
    public const string TokenVariable = "TRIBUTARY_TOKEN";

    public static IEnumerable<Command> Create()
    {
        yield return Command("sources", "List the sources and topics you may use", [], async (client, parse, json) =>
        {
            var list = await client.ListSourcesAsync();
            if (json)
            {
                WriteJson(w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("sources");
                    foreach (var s in list.Sources)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", s.Name);
                        w.WriteString("kind", s.Kind);
                        w.WriteString("description", s.Description);
                        w.WriteBoolean("read_only", s.ReadOnly);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteStartArray("topics");
                    list.Topics.ToList().ForEach(w.WriteStringValue);
                    w.WriteEndArray();
                    w.WriteEndObject();
                });
                return 0;
            }

            var table = new Table().AddColumns("source", "kind", "read-only", "tables", "description");
            foreach (var s in list.Sources)
            {
                table.AddRow(Markup.Escape(s.Name), s.Kind, s.ReadOnly ? "yes" : "no", s.TableCount?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?", Markup.Escape(s.Description));
            }

            AnsiConsole.Write(table);
            if (list.Topics.Count > 0)
            {
                AnsiConsole.MarkupLine($"topics: [bold]{Markup.Escape(string.Join(", ", list.Topics))}[/]");
            }

            return 0;
        });

        yield return Command("tools", "List the tools you may call", [], async (client, parse, json) =>
        {
            var tools = await client.Mcp.ListToolsAsync();
            if (json)
            {
                WriteJson(w =>
                {
                    w.WriteStartArray();
                    foreach (var t in tools)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", t.Name);
                        w.WriteString("description", t.Description);
                        w.WritePropertyName("input_schema");
                        t.JsonSchema.WriteTo(w);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                });
                return 0;
            }

            var table = new Table().AddColumns("tool", "description");
            foreach (var t in tools)
            {
                table.AddRow(Markup.Escape(t.Name), Markup.Escape(t.Description ?? ""));
            }

            AnsiConsole.Write(table);
            return 0;
        });

        var toolName = new Argument<string>("tool") { Description = "The tool" };
        var arguments = new Option<string?>("--args", "-a") { Description = "Its arguments as a JSON object, such as '{\"source\":\"shop\"}'" };
        yield return Command("call", "Call a tool and print its result", [toolName, arguments], async (client, parse, json) =>
        {
            var given = Object(parse.GetValue(arguments), "--args");
            WriteResult(await client.CallToolAsync(parse.GetValue(toolName)!, given), json);
            return 0;
        });

        var schemaSource = new Argument<string>("source") { Description = "The source" };
        var table = new Option<string?>("--table") { Description = "Only this table" };
        yield return Command("schema", "Describe a source's tables, columns and keys", [schemaSource, table], async (client, parse, json) =>
        {
            WriteResult(await client.DescribeSchemaAsync(parse.GetValue(schemaSource)!, parse.GetValue(table)), json);
            return 0;
        });

        var querySource = new Argument<string>("source") { Description = "The source" };
        var sql = new Argument<string>("sql") { Description = "One read-only statement; bind values as @name with --params" };
        var parameters = new Option<string?>("--params", "-p") { Description = "Parameters as a JSON object, such as '{\"id\":42}'" };
        var maxRows = new Option<int?>("--max-rows") { Description = "Rows per page (every page is read)" };
        yield return Command("query", "Run a read-only query and print every row", [querySource, sql, parameters, maxRows], async (client, parse, json) =>
        {
            var given = Object(parse.GetValue(parameters), "--params");
            var rows = await LiveProgress.RunAsync(json, "running the query", async progress =>
            {
                Table? table = null;
                await foreach (var row in client.QueryAsync(parse.GetValue(querySource)!, parse.GetValue(sql)!, given, parse.GetValue(maxRows)))
                {
                    if (json)
                    {
                        // One JSON object per line, as rows arrive page by page.
                        Console.Out.WriteLine(row.ToObject().GetRawText());
                        continue;
                    }

                    table ??= new Table().AddColumns([.. row.Columns.Select(Markup.Escape)]);
                    table.AddRow([.. row.Values.Select(v => Markup.Escape(v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText()))]);
                    progress($"reading rows: {table.Rows.Count:N0}");
                }

                return table;
            });

            if (!json)
            {
                AnsiConsole.Write(rows ?? new Table().AddColumn("(no rows)"));
            }

            return 0;
        });

        var uri = new Argument<string>("uri") { Description = "The resource, such as tributary://sources/shop/schema" };
        yield return Command("read", "Print a resource", [uri], async (client, parse, json) =>
        {
            Console.Out.WriteLine(await client.ReadResourceAsync(parse.GetValue(uri)!));
            return 0;
        });

        var eventsTopic = new Argument<string>("topic") { Description = "The topic" };
        var after = new Option<long?>("--after") { Description = "Only events after this cursor" };
        var limit = new Option<int>("--limit", "-n") { Description = "Most events", DefaultValueFactory = _ => 50 };
        yield return Command("events", "Print a topic's newest events (or those after a cursor)", [eventsTopic, after, limit], async (client, parse, json) =>
        {
            var request = new Dictionary<string, JsonElement>
            {
                ["topic"] = JsonSerializer.SerializeToElement(parse.GetValue(eventsTopic)!, CliJson.Default.String),
                ["limit"] = JsonSerializer.SerializeToElement(parse.GetValue(limit), CliJson.Default.Int32),
            };
            if (parse.GetValue(after) is { } cursor)
            {
                request["after"] = JsonSerializer.SerializeToElement(cursor, CliJson.Default.Int64);
            }

            WriteResult(await client.CallToolAsync("read_events", request), json);
            return 0;
        });

        var generateSource = new Option<string>("--source") { Description = "The source whose live schema to read", Required = true };
        var generateTarget = new Option<string>("--target") { Description = "prisma, typescript, csharp or jsonschema", Required = true };
        var generateTables = new Option<string?>("--tables") { Description = "Only these tables, comma-separated (default: all)" };
        var output = new Option<string?>("--out") { Description = "Write the file into this folder (default: print it)" };
        yield return Command("generate", "Generate models from a source's live schema: Prisma, TypeScript, C# or JSON Schema", [generateSource, generateTarget, generateTables, output], async (client, parse, json) =>
        {
            if (!Enum.TryParse<Tributary.Core.Generation.ModelTarget>(parse.GetValue(generateTarget), ignoreCase: true, out var target) || !Enum.IsDefined(target))
            {
                throw new ArgumentException($"--target must be prisma, typescript, csharp or jsonschema (not '{parse.GetValue(generateTarget)}')");
            }

            var source = parse.GetValue(generateSource)!;
            var tables = parse.GetValue(generateTables)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
            var text = await LiveProgress.RunAsync(json, $"reading the schema of {source}", async _ =>
            {
                var kind = (await client.ListSourcesAsync()).Sources.FirstOrDefault(s => s.Name == source)?.Kind ?? "sqlite";
                return Tributary.Core.Generation.ModelGenerator.Generate(await client.DescribeSchemaAsync(source), target, source, kind, tables);
            });
            if (parse.GetValue(output) is { } folder)
            {
                Directory.CreateDirectory(folder);
                var path = Path.Combine(folder, Tributary.Core.Generation.ModelGenerator.FileName(target));
                await File.WriteAllTextAsync(path, text);
                Console.Error.WriteLine($"wrote {path}");
            }
            else
            {
                Console.Out.Write(text);
            }

            return 0;
        });

        var subscribeTopic = new Argument<string>("topic") { Description = "The topic" };
        var from = new Option<long?>("--after") { Description = "Start after this cursor (default: from now on)" };
        var types = new Option<string?>("--types") { Description = "Only these event types, comma-separated" };
        var severity = new Option<string?>("--min-severity") { Description = "Only events at least this serious" };
        yield return Command("subscribe", "Stream a topic's events until interrupted (each once, across reconnects)", [subscribeTopic, from, types, severity], async (client, parse, json) =>
        {
            using var interrupted = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                interrupted.Cancel();
            };
            var filter = new TopicFilter
            {
                Types = parse.GetValue(types)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [],
                MinSeverity = parse.GetValue(severity),
            };
            try
            {
                await foreach (var e in client.SubscribeAsync(parse.GetValue(subscribeTopic)!, filter, parse.GetValue(from), interrupted.Token))
                {
                    if (json)
                    {
                        WriteJson(w =>
                        {
                            w.WriteStartObject();
                            w.WriteNumber("seq", e.Sequence);
                            w.WriteString("type", e.Type);
                            w.WriteString("source", e.Source);
                            w.WriteString("severity", e.Severity);
                            w.WriteString("time", e.Time);
                            w.WritePropertyName("data");
                            e.Data.WriteTo(w);
                            w.WriteEndObject();
                        }, indented: false);
                    }
                    else
                    {
                        AnsiConsole.MarkupLine($"[grey]{e.Sequence}[/] {e.Time:HH:mm:ss} [{Colour(e.Severity)}]{e.Severity,-8}[/] [bold]{Markup.Escape(e.Type)}[/] {Markup.Escape(e.Data.GetRawText())}");
                    }
                }
            }
            catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
            {
            }

            return 0;
        },
        // It runs until interrupted: once connected, it waits out a server that is away (a restart, a deploy).
        new RetryPolicy { Attempts = int.MaxValue, ConnectAttempts = 4, MaxDelay = TimeSpan.FromSeconds(5) });
    }

    /// <summary>The connection options every client command takes.</summary>
    internal sealed record Target(Option<string?> Url, Option<string?> Sse, Option<string?> Ws, Option<string?> Stdio, Option<string?> Token, Option<string?> ApiKey, Option<string?> Cert, Option<string?> CertKey, Option<string?> Ca, Option<bool> Json, Option<int> Timeout)
    {
        public static Target Create() => new(
            new Option<string?>("--url") { Description = $"Streamable HTTP endpoint, such as http://127.0.0.1:8080/mcp (default ${UrlVariable})" },
            new Option<string?>("--sse") { Description = "Legacy SSE endpoint, such as http://127.0.0.1:8080/sse" },
            new Option<string?>("--ws") { Description = "WebSocket endpoint, such as ws://127.0.0.1:8080/ws" },
            new Option<string?>("--stdio") { Description = "Start the server with this command line, such as \"tributary serve --stdio\"" },
            new Option<string?>("--token") { Description = $"Bearer token (default ${TokenVariable})" },
            new Option<string?>("--api-key") { Description = $"API key, trib_... (default ${Tributary.Core.Configuration.AuthConfig.StdioKeyVariable})" },
            new Option<string?>("--cert") { Description = "Client certificate for mTLS: a PEM file, with its private key unless --cert-key names another" },
            new Option<string?>("--cert-key") { Description = "The client certificate's private key (PEM)" },
            new Option<string?>("--ca") { Description = "The private authority (PEM) that issued the server's certificate, trusted for this server" },
            new Option<bool>("--json") { Description = "JSON for scripts instead of tables" },
            new Option<int>("--timeout") { Description = "Seconds one request may take", DefaultValueFactory = _ => 30 });

        /// <summary>Adds the options to <paramref name="command"/> (without <c>--json</c> when it has its own output).</summary>
        public void AddTo(Command command, bool json = true)
        {
            foreach (var option in new Option[] { Url, Sse, Ws, Stdio, Token, ApiKey, Cert, CertKey, Ca, Timeout })
            {
                command.Options.Add(option);
            }

            if (json)
            {
                command.Options.Add(Json);
            }
        }

        /// <summary>True when the command line names a server explicitly.</summary>
        public bool Given(ParseResult parse) => new[] { Url, Sse, Ws, Stdio }.Any(o => parse.GetValue(o) is not null);
    }

    private static Command Command(string name, string description, Symbol[] symbols, Func<TributaryClient, ParseResult, bool, Task<int>> action, RetryPolicy? retry = null)
    {
        var target = Target.Create();
        var command = new Command(name, description);
        foreach (var symbol in symbols)
        {
            switch (symbol)
            {
                case Argument argument:
                    command.Arguments.Add(argument);
                    break;
                case Option option:
                    command.Options.Add(option);
                    break;
            }
        }

        target.AddTo(command);
        command.SetAction((parse, cancellationToken) => RunAsync(parse, target, (client, json) => action(client, parse, json), cancellationToken, retry));
        return command;
    }

    /// <summary>Connects as the command line says and runs <paramref name="action"/>, turning failures into the documented exit codes.</summary>
    internal static async Task<int> RunAsync(ParseResult parse, Target target, Func<TributaryClient, bool, Task<int>> action, CancellationToken cancellationToken, RetryPolicy? retry = null)
    {
        TributaryClientOptions options;
        try
        {
            options = Options(parse, target) with { Retry = retry ?? new RetryPolicy() };
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }

        try
        {
            var json = parse.GetValue(target.Json);
            await using var client = await LiveProgress.RunAsync(json, $"connecting to {options.Endpoint?.ToString() ?? options.Command}", _ => TributaryClient.ConnectAsync(options, cancellationToken));
            // People and scripts both learn of a lost connection on stderr; the command carries on once it is back.
            client.StatusChanged += (_, status) =>
            {
                if (status != ConnectionStatus.Lost)
                {
                    Console.Error.WriteLine(status == ConnectionStatus.Reconnecting ? "tributary: the connection was lost; reconnecting" : "tributary: reconnected");
                }
            };
            return await action(client, json);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        catch (TributaryToolException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        catch (Exception e) when (e is TributaryConnectionException or TributaryAuthenticationException)
        {
            Console.Error.WriteLine(e.Message);
            return 3;
        }
        catch (ModelContextProtocol.McpException e)
        {
            Console.Error.WriteLine($"the server refused the request: {e.Message}");
            return 1;
        }
    }

    private static TributaryClientOptions Options(ParseResult parse, Target target)
    {
        var chosen = new (TributaryTransport Transport, string? Value)[]
        {
            (TributaryTransport.Http, parse.GetValue(target.Url)),
            (TributaryTransport.Sse, parse.GetValue(target.Sse)),
            (TributaryTransport.WebSocket, parse.GetValue(target.Ws)),
            (TributaryTransport.Stdio, parse.GetValue(target.Stdio)),
        }.Where(c => c.Value is not null).ToList();
        if (chosen.Count > 1)
        {
            throw new ArgumentException("choose one of --url, --sse, --ws and --stdio");
        }

        var (transport, value) = chosen.Count == 1 ? chosen[0] : (TributaryTransport.Http, Environment.GetEnvironmentVariable(UrlVariable));
        if (value is null)
        {
            throw new ArgumentException($"say which server: --url http://127.0.0.1:8080/mcp (or ${UrlVariable}), --sse, --ws or --stdio \"tributary serve --stdio\"");
        }

        var seconds = parse.GetValue(target.Timeout);
        if (seconds is < 1 or > 3600)
        {
            throw new ArgumentException("--timeout must be between 1 and 3600 seconds");
        }

        string[] words = transport == TributaryTransport.Stdio ? Words(value) : [];
        var options = new TributaryClientOptions
        {
            Transport = transport,
            Endpoint = transport == TributaryTransport.Stdio ? null : Uri.TryCreate(value, UriKind.Absolute, out var uri) ? uri : throw new ArgumentException($"'{value}' is not a URL"),
            Command = words.FirstOrDefault(),
            Arguments = [.. words.Skip(1)],
            BearerToken = parse.GetValue(target.Token) ?? Environment.GetEnvironmentVariable(TokenVariable),
            ApiKey = parse.GetValue(target.ApiKey) ?? Environment.GetEnvironmentVariable(Tributary.Core.Configuration.AuthConfig.StdioKeyVariable),
            RequestTimeout = TimeSpan.FromSeconds(seconds),
            ClientCertificate = parse.GetValue(target.Cert) is { } cert ? Pem("--cert", cert, () => PemFiles.Certificate(cert, parse.GetValue(target.CertKey))) : null,
            TrustedAuthority = parse.GetValue(target.Ca) is { } ca ? Pem("--ca", ca, () => PemFiles.Authorities(ca)[0]) : null,
        };
        options.Validate();
        return options;
    }

    private static X509Certificate2 Pem(string option, string path, Func<X509Certificate2> load)
    {
        try
        {
            return load();
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{option} {path}: cannot read a PEM certificate{(option == "--cert" ? " and its key" : "")}: {e.Message}", e);
        }
    }

    /// <summary>Splits a command line into words (double quotes group; no shell is involved).</summary>
    private static string[] Words(string commandLine)
    {
        var words = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        foreach (var c in commandLine)
        {
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (char.IsWhiteSpace(c) && !quoted)
            {
                if (current.Length > 0)
                {
                    words.Add(current.ToString());
                    current.Clear();
                }
            }
            else
            {
                current.Append(c);
            }
        }

        if (current.Length > 0)
        {
            words.Add(current.ToString());
        }

        return [.. words];
    }

    private static Dictionary<string, JsonElement>? Object(string? text, string option)
    {
        if (text is null)
        {
            return null;
        }

        try
        {
            var element = JsonElement.Parse(text);
            return element.ValueKind == JsonValueKind.Object
                ? element.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal)
                : throw new ArgumentException($"{option} must be a JSON object");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{option} is not JSON: {e.Message}", e);
        }
    }

    private static void WriteResult(JsonElement result, bool json) => WriteJson(result.WriteTo, indented: !json);

    private static void WriteJson(Action<Utf8JsonWriter> write, bool indented = true)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = indented }))
        {
            write(writer);
        }

        stdout.Write("\n"u8);
    }

    private static string Colour(string severity) => severity switch
    {
        "critical" or "error" => "red",
        "warning" => "yellow",
        "debug" => "grey",
        _ => "green",
    };
}

/// <summary>Source-generated JSON for the client commands' arguments.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
[System.Text.Json.Serialization.JsonSerializable(typeof(int))]
[System.Text.Json.Serialization.JsonSerializable(typeof(long))]
internal sealed partial class CliJson : System.Text.Json.Serialization.JsonSerializerContext;
