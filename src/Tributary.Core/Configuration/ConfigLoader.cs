using System.Globalization;
using System.Text.RegularExpressions;
using Tributary.Core.Sources;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Tributary.Core.Configuration;

/// <summary>
/// Reads <c>tributary.yaml</c> into <see cref="TributaryConfig"/> and validates all of it, collecting every error
/// with its path and what to change. Walks the YAML node tree by hand: no reflection, so Native AOT stays possible.
/// </summary>
public sealed partial class ConfigLoader
{
    /// <summary>The configuration file name looked for by default.</summary>
    public const string DefaultFileName = "tributary.yaml";

    private static readonly string[] ServerKeys = ["http", "public_url", "tls", "allowed_origins", "allowed_hosts", "max_request_bytes", "data_dir", "cursor_secret", "idempotency_retention", "metrics", "otlp_endpoint", "redis"];
    /// <summary>Source keys that only a database source (<see cref="ISourceProvider.IsDatabase"/>) takes.</summary>
    private static readonly string[] DatabaseSourceKeys = ["statement_timeout", "max_rows", "max_rows_limit", "writable", "tables", "capture"];

    private static readonly string[] SourceKeys = ["kind", "description", "statement_timeout", "max_rows", "max_rows_limit", "max_result_bytes", "batch_concurrency", "writable", "tables", "capture"];
    private static readonly string[] CaptureKeys = ["topic", "operations", "columns"];
    private static readonly string[] TableKeys = ["version_column", "columns"];
    private static readonly string[] RuleKeys = ["minimum", "maximum", "min_length", "max_length", "pattern", "format", "enum"];
    private static readonly string[] HttpToolKeys = ["method", "path", "query", "body", "pointer"];
    private static readonly string[] ToolKeys = ["source", "description", "statement", "parameters", "destructive", "idempotent", "cache_ttl", .. HttpToolKeys];
    private static readonly string[] ParameterKeys = ["type", "description", "required", "default", "from_claim", .. RuleKeys];
    private static readonly string[] ParameterTypes = ["string", "integer", "number", "boolean"];
    private static readonly string[] TopicKeys = ["description", "max_events", "max_age", "webhook_secret", "tail", "feed"];
    private static readonly string[] Formats = ["date-time", "date", "time", "email", "uuid", "uri"];

    /// <summary>Names of Tributary's own tools, which named tools may not take.</summary>
    public static readonly IReadOnlyList<string> BuiltInToolNames = ["list_sources", "describe_schema", "query", "batch_query", "fetch", "update_rows", "publish_event", "read_events"];

    /// <summary>Arguments every write tool takes besides its parameters.</summary>
    public static readonly IReadOnlyList<string> WriteToolArguments = ["idempotency_key", "dry_run"];

    private readonly IReadOnlyDictionary<string, ISourceProvider> _providers;
    private readonly Func<string, string?> _environment;

    /// <summary>Creates a loader that knows <paramref name="providers"/> and reads variables from <paramref name="environment"/>.</summary>
    public ConfigLoader(IEnumerable<ISourceProvider> providers, Func<string, string?>? environment = null)
    {
        _providers = providers.ToDictionary(p => p.Kind, StringComparer.Ordinal);
        _environment = environment ?? Environment.GetEnvironmentVariable;
    }

    /// <summary>Loads and validates a file; throws <see cref="ConfigException"/> with every error.</summary>
    public TributaryConfig LoadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException([new ConfigError(path, $"cannot read the configuration file: {e.Message}")]);
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? Directory.GetCurrentDirectory();
        return Load(text, directory);
    }

    /// <summary>Loads and validates YAML text; relative paths are relative to <paramref name="baseDirectory"/>.</summary>
    public TributaryConfig Load(string yaml, string baseDirectory)
    {
        var errors = new ConfigErrors();
        var config = Parse(yaml, baseDirectory, errors);
        if (!errors.IsEmpty || config is null)
        {
            throw new ConfigException(errors.All);
        }

        return config;
    }

    private TributaryConfig? Parse(string yaml, string baseDirectory, ConfigErrors errors)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            errors.Add("(file)", $"not valid YAML: {e.InnerException?.Message ?? e.Message}", LineOf(e.Start));
            return null;
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return new TributaryConfig { BaseDirectory = baseDirectory };
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            errors.Add("(file)", "the top level must be a mapping with 'server' and 'sources'", LineOf(stream.Documents[0].RootNode.Start));
            return null;
        }

        var reader = new NodeReader(errors, _environment);
        ServerConfig server = new();
        List<SourceConfig> sources = [];
        List<(ToolConfig Tool, int? Line)> tools = [];
        List<TopicConfig> topics = [];
        AuthConfig auth = new();
        foreach (var (keyNode, value) in root.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value ?? "";
            switch (key)
            {
                case "server":
                    server = ReadServer(reader, value, baseDirectory);
                    break;
                case "sources":
                    sources = ReadSources(reader, value, new SourceContext(baseDirectory));
                    break;
                case "tools":
                    tools = ReadTools(reader, value);
                    break;
                case "topics":
                    topics = ReadTopics(reader, value, baseDirectory);
                    break;
                case "auth":
                    auth = ReadAuth(reader, value, baseDirectory);
                    break;
                default:
                    errors.Add(key, "unknown top-level key (known: server, sources, tools, topics, auth)", LineOf(keyNode.Start));
                    break;
            }
        }

        foreach (var (tool, line) in tools)
        {
            CheckToolSource(tool, sources, errors, line);
        }

        foreach (var (tool, line) in tools.Where(t => !auth.Enabled && t.Tool.Parameters.Any(p => p.FromClaim is not null)))
        {
            errors.Add(tool.Path + ".parameters", "binds a parameter to a claim (from_claim), which needs authentication: configure auth (oauth, api_keys or mtls)", line);
        }

        CheckServerAndAuth(server, auth, errors, root.Children.TryGetValue(new YamlScalarNode("server"), out var serverNode) && serverNode is YamlMappingNode serverMapping ? NodeReader.KeyLine(serverMapping, "http") : null);

        foreach (var source in sources)
        {
            foreach (var capture in source.Captures.Where(c => topics.All(t => t.Name != c.Topic)))
            {
                errors.Add($"{source.Path}.capture.{capture.Table}.topic", $"unknown topic '{capture.Topic}' (topics: {(topics.Count == 0 ? "none configured: add it under topics" : string.Join(", ", topics.Select(t => t.Name)))})");
            }
        }

        return new TributaryConfig { Server = server, Sources = sources, Tools = tools.Select(t => t.Tool).ToArray(), Topics = topics, Auth = auth, BaseDirectory = baseDirectory };
    }

    private static ServerConfig ReadServer(NodeReader reader, YamlNode node, string baseDirectory)
    {
        var server = new ServerConfig();
        if (reader.Mapping(node, "server") is not { } mapping)
        {
            return server;
        }

        foreach (var (key, value, path) in reader.Entries(mapping, "server", ServerKeys))
        {
            server = key switch
            {
                "http" => server with { Http = reader.Scalar(value, path) ?? server.Http },
                "public_url" => server with { PublicUrl = reader.Url(value, path) },
                "tls" => server with { Tls = ReadTls(reader, value, path, baseDirectory) },
                "allowed_origins" => server with { AllowedOrigins = reader.StringList(value, path) },
                "allowed_hosts" => server with { AllowedHosts = reader.StringList(value, path) },
                "max_request_bytes" => server with { MaxRequestBytes = reader.Integer(value, path, 1024, 1L << 30) ?? server.MaxRequestBytes },
                "data_dir" => server with { DataDir = reader.Scalar(value, path) ?? server.DataDir },
                "cursor_secret" => server with { CursorSecret = reader.Scalar(value, path) },
                "idempotency_retention" => server with { IdempotencyRetention = reader.Duration(value, path, TimeSpan.FromDays(30)) ?? server.IdempotencyRetention },
                "metrics" => server with { Metrics = reader.Boolean(value, path) ?? server.Metrics },
                "otlp_endpoint" => server with { OtlpEndpoint = reader.Url(value, path) },
                "redis" => server with { Redis = reader.Scalar(value, path) },
                _ => server,
            };
        }

        if (!HttpEndpoint.TryParse(server.Http, out _, out var problem))
        {
            reader.Errors.Add("server.http", problem, NodeReader.KeyLine(mapping, "http"));
        }

        if (server.Redis is { } redis && !RedisRegex().IsMatch(redis))
        {
            reader.Errors.Add("server.redis", $"'{redis}' is not a Redis address: write host:port, optionally followed by options such as ,password=${{REDIS_PASSWORD}}", NodeReader.KeyLine(mapping, "redis"));
        }

        foreach (var origin in server.AllowedOrigins)
        {
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.PathAndQuery != "/")
            {
                reader.Errors.Add("server.allowed_origins", $"'{origin}' is not an origin: write scheme://host[:port], such as https://app.example.com");
            }
        }

        return server;
    }

    private List<SourceConfig> ReadSources(NodeReader reader, YamlNode node, SourceContext context)
    {
        List<SourceConfig> sources = [];
        if (reader.Mapping(node, "sources") is not { } mapping)
        {
            return sources;
        }

        foreach (var (nameNode, sourceNode) in mapping.Children)
        {
            var name = ((YamlScalarNode)nameNode).Value ?? "";
            var path = $"sources.{name}";
            if (!SourceNameRegex().IsMatch(name))
            {
                reader.Errors.Add(path, "a source name must be lowercase letters, digits and '_', starting with a letter (such as 'shop' or 'sales_db')", LineOf(nameNode.Start));
            }

            if (reader.Mapping(sourceNode, path) is not { } body)
            {
                continue;
            }

            var kind = body.Children.TryGetValue(new YamlScalarNode("kind"), out var kindNode) ? reader.Scalar(kindNode, path + ".kind") : null;
            if (kind is null)
            {
                reader.Errors.Add(path + ".kind", $"missing: say which provider serves this source (known: {KnownKinds()})", LineOf(body.Start));
                continue;
            }

            if (!_providers.TryGetValue(kind, out var provider))
            {
                reader.Errors.Add(path + ".kind", $"unknown provider '{kind}' (known: {KnownKinds()})", LineOf(kindNode!.Start));
                continue;
            }

            var source = new SourceConfig { Name = name, Kind = kind };
            var settings = new Dictionary<string, string>(StringComparer.Ordinal);
            var known = SourceKeys.Concat(provider.SettingKeys.Keys).ToArray();
            foreach (var (key, value, keyPath) in reader.Entries(body, path, known))
            {
                if (!provider.IsDatabase && DatabaseSourceKeys.Contains(key))
                {
                    reader.Errors.Add(keyPath, $"'{key}' is a database setting, and a source of kind {kind} has no tables or statements: remove it", LineOf(value.Start));
                    continue;
                }

                switch (key)
                {
                    case "kind":
                        break;
                    case "description":
                        source = source with { Description = reader.Scalar(value, keyPath) ?? "" };
                        break;
                    case "statement_timeout":
                        source = source with { StatementTimeout = reader.Duration(value, keyPath) ?? source.StatementTimeout };
                        break;
                    case "max_rows":
                        source = source with { MaxRows = (int)(reader.Integer(value, keyPath, 1, 1_000_000) ?? source.MaxRows) };
                        break;
                    case "max_result_bytes":
                        source = source with { MaxResultBytes = reader.Integer(value, keyPath, 1024, 256L * 1024 * 1024) ?? source.MaxResultBytes };
                        break;
                    case "batch_concurrency":
                        source = source with { BatchConcurrency = (int)(reader.Integer(value, keyPath, 1, 64) ?? source.BatchConcurrency) };
                        break;
                    case "max_rows_limit":
                        source = source with { MaxRowsLimit = (int)(reader.Integer(value, keyPath, 1, 1_000_000) ?? source.MaxRowsLimit) };
                        break;
                    case "writable":
                        source = source with { Writable = reader.Boolean(value, keyPath) ?? false };
                        break;
                    case "tables":
                        source = source with { WritableTables = ReadWritableTables(reader, value, keyPath) };
                        break;
                    case "capture":
                        source = source with { Captures = ReadCaptures(reader, value, keyPath) };
                        break;
                    default:
                        if (value is YamlMappingNode entries && provider.MappingSettingKeys.Contains(key))
                        {
                            settings[key] = reader.JsonObject(entries, keyPath);
                        }
                        else if (value is YamlSequenceNode)
                        {
                            settings[key] = string.Join(',', reader.StringList(value, keyPath));
                        }
                        else if (reader.Scalar(value, keyPath) is { } setting)
                        {
                            settings[key] = setting;
                        }

                        break;
                }
            }

            if (source.MaxRows > source.MaxRowsLimit)
            {
                reader.Errors.Add(path + ".max_rows", $"{source.MaxRows} is above max_rows_limit ({source.MaxRowsLimit}): lower max_rows or raise max_rows_limit", LineOf(body.Start));
            }

            if (source.Writable && source.WritableTables.Count == 0)
            {
                reader.Errors.Add(path + ".tables", "missing: a writable source lists the tables writes may change, such as 'tables: { orders: { version_column: version } }'", LineOf(body.Start));
            }
            else if (!source.Writable && source.WritableTables.Count > 0)
            {
                reader.Errors.Add(path + ".writable", "'tables' lists writable tables but 'writable' is not true: add 'writable: true' or remove 'tables'", LineOf(body.Start));
            }

            source = source with { Settings = settings };
            provider.Validate(source, context, reader.Errors);
            sources.Add(source);
        }

        return sources;
    }

    private static List<CaptureConfig> ReadCaptures(NodeReader reader, YamlNode node, string path)
    {
        List<CaptureConfig> captures = [];
        foreach (var (table, capturePath, nameNode, captureNode) in reader.Named(node, path, IdentifierRegex(), "a table name is letters, digits and '_'"))
        {
            string? topic = null;
            if (table is "_tributary_changes" or "tributary_changes")
            {
                reader.Errors.Add(capturePath, "this is Tributary's own change table, which cannot itself be captured: remove it", LineOf(nameNode.Start));
            }

            var capture = new CaptureConfig { Table = table, Topic = "" };
            if (reader.Mapping(captureNode, capturePath) is { } body)
            {
                foreach (var (key, value, keyPath) in reader.Entries(body, capturePath, CaptureKeys))
                {
                    switch (key)
                    {
                        case "topic":
                            topic = reader.Scalar(value, keyPath);
                            break;
                        case "operations":
                            var operations = reader.StringList(value, keyPath);
                            foreach (var bad in operations.Where(o => !CaptureConfig.AllOperations.Contains(o)))
                            {
                                reader.Errors.Add(keyPath, $"'{bad}' is not an operation (insert, update, delete)", LineOf(value.Start));
                            }

                            capture = capture with { Operations = operations };
                            break;
                        default:
                            var columns = reader.StringList(value, keyPath);
                            foreach (var bad in columns.Where(c => !IdentifierRegex().IsMatch(c)))
                            {
                                reader.Errors.Add(keyPath, $"'{bad}' is not a column name", LineOf(value.Start));
                            }

                            capture = capture with { Columns = columns };
                            break;
                    }
                }
            }

            if (topic is null)
            {
                reader.Errors.Add(capturePath + ".topic", "missing: name the topic the changes go to", LineOf(captureNode.Start));
            }

            captures.Add(capture with { Topic = topic ?? "" });
        }

        return captures;
    }

    private static List<WritableTableConfig> ReadWritableTables(NodeReader reader, YamlNode node, string path)
    {
        List<WritableTableConfig> tables = [];
        foreach (var (name, tablePath, nameNode, tableNode) in reader.Named(node, path, QualifiedNameRegex(), "a table name is letters, digits and '_', optionally after its schema (such as orders or sales.orders)"))
        {

            var table = new WritableTableConfig { Name = name };
            if (reader.Mapping(tableNode, tablePath) is { } body)
            {
                foreach (var (key, value, keyPath) in reader.Entries(body, tablePath, TableKeys))
                {
                    if (key == "version_column")
                    {
                        var column = reader.Scalar(value, keyPath);
                        if (column is not null && !IdentifierRegex().IsMatch(column))
                        {
                            reader.Errors.Add(keyPath, $"'{column}' is not a column name", LineOf(value.Start));
                        }

                        table = table with { VersionColumn = column };
                    }
                    else if (reader.Mapping(value, keyPath) is { } columns)
                    {
                        var rules = new Dictionary<string, ValueRules>(StringComparer.Ordinal);
                        foreach (var (columnNode, rulesNode) in columns.Children)
                        {
                            var column = ((YamlScalarNode)columnNode).Value ?? "";
                            if (!IdentifierRegex().IsMatch(column))
                            {
                                reader.Errors.Add($"{keyPath}.{column}", $"'{column}' is not a column name", LineOf(columnNode.Start));
                            }

                            rules[column] = reader.Mapping(rulesNode, $"{keyPath}.{column}") is { } ruleMap ? ReadColumnRules(reader, ruleMap, $"{keyPath}.{column}") : new ValueRules();
                        }

                        table = table with { Columns = rules };
                    }
                }
            }

            tables.Add(table);
        }

        return tables;
    }

    /// <summary>Reads the rule keys of <paramref name="mapping"/>; other keys are left to the caller.</summary>
    private static ValueRules ReadRules(NodeReader reader, YamlMappingNode mapping, string path)
    {
        var rules = new ValueRules();
        foreach (var (keyNode, value) in mapping.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value ?? "";
            var keyPath = $"{path}.{key}";
            rules = key switch
            {
                "minimum" => rules with { Minimum = reader.Decimal(value, keyPath) },
                "maximum" => rules with { Maximum = reader.Decimal(value, keyPath) },
                "min_length" => rules with { MinLength = (int?)reader.Integer(value, keyPath, 0, int.MaxValue) },
                "max_length" => rules with { MaxLength = (int?)reader.Integer(value, keyPath, 1, int.MaxValue) },
                "pattern" => rules with { Pattern = reader.Pattern(value, keyPath) },
                "format" => rules with { Format = reader.OneOf(value, keyPath, Formats) },
                "enum" => rules with { Enum = reader.StringList(value, keyPath) },
                _ => rules,
            };
        }

        if (rules.Minimum > rules.Maximum)
        {
            reader.Errors.Add(path + ".minimum", $"{rules.Minimum} is above maximum ({rules.Maximum})", LineOf(mapping.Start));
        }

        if (rules.MinLength > rules.MaxLength)
        {
            reader.Errors.Add(path + ".min_length", $"{rules.MinLength} is above max_length ({rules.MaxLength})", LineOf(mapping.Start));
        }

        return rules;
    }

    private static List<TopicConfig> ReadTopics(NodeReader reader, YamlNode node, string baseDirectory)
    {
        List<TopicConfig> topics = [];
        foreach (var (name, path, nameNode, topicNode) in reader.Named(node, "topics", SourceNameRegex(), "a topic name must be lowercase letters, digits and '_', starting with a letter (such as 'orders' or 'app_logs')"))
        {

            var topic = new TopicConfig { Name = name };
            if (reader.Mapping(topicNode, path) is { } body)
            {
                foreach (var (key, value, keyPath) in reader.Entries(body, path, TopicKeys))
                {
                    topic = key switch
                    {
                        "description" => topic with { Description = reader.Scalar(value, keyPath) ?? "" },
                        "max_events" => topic with { MaxEvents = reader.Integer(value, keyPath, 1, 1_000_000_000) ?? topic.MaxEvents },
                        "max_age" => topic with { MaxAge = reader.Duration(value, keyPath, TimeSpan.FromDays(3650)) ?? topic.MaxAge },
                        "feed" => topic with { FeedUrl = reader.Url(value, keyPath) },
                        "tail" => topic with { TailPath = reader.Scalar(value, keyPath) is { Length: > 0 } tail ? Path.GetFullPath(tail, baseDirectory) : null },
                        _ => topic with { WebhookSecret = reader.Scalar(value, keyPath) },
                    };
                }
            }

            if (topic.WebhookSecret is { Length: < 32 })
            {
                reader.Errors.Add(path + ".webhook_secret", "is shorter than 32 characters: use a long random secret (such as the output of 'openssl rand -hex 32'), from the environment: ${HOOK_SECRET}", LineOf(nameNode.Start));
            }

            topics.Add(topic);
        }

        return topics;
    }

    private static ValueRules ReadColumnRules(NodeReader reader, YamlMappingNode mapping, string path)
    {
        foreach (var _ in reader.Entries(mapping, path, RuleKeys))
        {
            // Reports unknown keys.
        }

        return ReadRules(reader, mapping, path);
    }

    private static List<(ToolConfig Tool, int? Line)> ReadTools(NodeReader reader, YamlNode node)
    {
        List<(ToolConfig, int?)> tools = [];
        if (reader.Mapping(node, "tools") is not { } mapping)
        {
            return tools;
        }

        foreach (var (nameNode, toolNode) in mapping.Children)
        {
            var name = ((YamlScalarNode)nameNode).Value ?? "";
            var path = $"tools.{name}";
            if (!SourceNameRegex().IsMatch(name))
            {
                reader.Errors.Add(path, "a tool name must be lowercase letters, digits and '_', starting with a letter (such as 'user_orders')", LineOf(nameNode.Start));
            }
            else if (BuiltInToolNames.Contains(name))
            {
                reader.Errors.Add(path, $"'{name}' is one of Tributary's own tools ({string.Join(", ", BuiltInToolNames)}): choose another name", LineOf(nameNode.Start));
            }

            if (reader.Mapping(toolNode, path) is not { } body)
            {
                continue;
            }

            string? source = null;
            string? statement = null;
            var tool = new ToolConfig { Name = name, Source = "", Statement = "" };
            List<ToolParameterConfig> parameters = [];
            Dictionary<string, YamlNode> call = [];
            foreach (var (key, value, keyPath) in reader.Entries(body, path, ToolKeys))
            {
                switch (key)
                {
                    case "source":
                        source = reader.Scalar(value, keyPath);
                        break;
                    case "description":
                        tool = tool with { Description = reader.Scalar(value, keyPath) ?? "" };
                        break;
                    case "statement":
                        statement = reader.Scalar(value, keyPath);
                        break;
                    case "destructive":
                        tool = tool with { Destructive = reader.Boolean(value, keyPath) };
                        break;
                    case "idempotent":
                        tool = tool with { Idempotent = reader.Boolean(value, keyPath) };
                        break;
                    case "cache_ttl":
                        tool = tool with { CacheTtl = ResultCacheSettings.ParseTtl(reader.Scalar(value, keyPath), keyPath, reader.Errors) };
                        break;
                    case "parameters":
                        parameters = ReadParameters(reader, value, keyPath);
                        break;
                    default:
                        call[key] = value;
                        break;
                }
            }

            if (source is null)
            {
                reader.Errors.Add(path + ".source", "missing: name the source the statement runs against", LineOf(body.Start));
            }

            if (call.Count > 0)
            {
                if (statement is not null)
                {
                    reader.Errors.Add(path + ".statement", $"a tool has a statement (over a database) or a call ({string.Join(", ", call.Keys)}; over an http source), not both: remove one", LineOf(body.Start));
                }
                else if (ReadHttpCall(reader, call, path, parameters) is { } http)
                {
                    if (tool.CacheTtl is not null && http.Method != "GET")
                    {
                        reader.Errors.Add(path + ".cache_ttl", $"only a GET's answers are cached: remove cache_ttl from this {http.Method} tool", LineOf(body.Start));
                    }

                    tools.Add((tool with { Source = source ?? "", Parameters = parameters, Http = http }, LineOf(body.Start)));
                }

                continue;
            }

            if (string.IsNullOrWhiteSpace(statement))
            {
                reader.Errors.Add(path + ".statement", "missing: give one SQL statement, with parameters written @name (over an http source: method and path instead)", LineOf(body.Start));
                continue;
            }

            tool = tool with { Source = source ?? "", Statement = statement, Parameters = parameters };
            if (StatementClassifier.Classify(statement) is not { } shape)
            {
                reader.Errors.Add(path + ".statement", "must be one SELECT (or WITH ... SELECT) statement, or one INSERT INTO, UPDATE or DELETE FROM statement", LineOf(body.Start));
                continue;
            }

            tool = tool with { Shape = shape.Shape, WritesTable = shape.Table };
            if (tool.CacheTtl is not null && shape.Shape != StatementShape.Read)
            {
                reader.Errors.Add(path + ".cache_ttl", "only a read tool's results are cached: remove cache_ttl from this write tool", LineOf(body.Start));
            }

            var used = StatementClassifier.Parameters(statement);
            foreach (var missing in used.Where(u => parameters.All(p => p.Name != u)))
            {
                reader.Errors.Add(path + ".parameters", $"the statement uses @{missing} but no parameter '{missing}' is declared: add it under parameters", LineOf(body.Start));
            }

            foreach (var unused in parameters.Where(p => !used.Contains(p.Name)))
            {
                reader.Errors.Add($"{path}.parameters.{unused.Name}", $"declared but the statement never uses @{unused.Name}: use it or remove it", LineOf(body.Start));
            }

            if (shape.Shape != StatementShape.Read)
            {
                foreach (var reserved in parameters.Where(p => WriteToolArguments.Contains(p.Name)))
                {
                    reader.Errors.Add($"{path}.parameters.{reserved.Name}", $"'{reserved.Name}' is an argument every write tool has ({string.Join(", ", WriteToolArguments)}): rename the parameter", LineOf(body.Start));
                }
            }

            tools.Add((tool, LineOf(body.Start)));
        }

        return tools;
    }

    private static List<ToolParameterConfig> ReadParameters(NodeReader reader, YamlNode node, string path)
    {
        List<ToolParameterConfig> parameters = [];
        foreach (var (name, parameterPath, nameNode, parameterNode) in reader.Named(node, path, IdentifierRegex(), "a parameter name is letters, digits and '_', starting with a letter or '_'"))
        {

            var parameter = new ToolParameterConfig { Name = name };
            if (reader.Mapping(parameterNode, parameterPath) is { } body)
            {
                foreach (var (key, value, keyPath) in reader.Entries(body, parameterPath, ParameterKeys))
                {
                    parameter = key switch
                    {
                        "type" => parameter with { Type = reader.OneOf(value, keyPath, ParameterTypes) ?? parameter.Type },
                        "description" => parameter with { Description = reader.Scalar(value, keyPath) ?? "" },
                        "required" => parameter with { Required = reader.Boolean(value, keyPath) ?? false },
                        "default" => parameter with { Default = reader.Scalar(value, keyPath) },
                        "from_claim" => parameter with { FromClaim = reader.Scalar(value, keyPath) },
                        _ => parameter,
                    };
                }

                parameter = parameter with { Rules = ReadRules(reader, body, parameterPath) };
            }

            if (parameter.Default is { } fallback && !DefaultFits(parameter.Type, fallback))
            {
                reader.Errors.Add(parameterPath + ".default", $"'{fallback}' is not a valid {parameter.Type}", LineOf(parameterNode.Start));
            }

            if (parameter.FromClaim is not null && (parameter.Required || parameter.Default is not null))
            {
                reader.Errors.Add(parameterPath + ".from_claim", "a parameter bound to a claim takes its value from the caller's credentials only: remove required and default", LineOf(parameterNode.Start));
            }

            if (parameter.Required && parameter.Default is not null)
            {
                reader.Errors.Add(parameterPath + ".default", "a required parameter has no use for a default: remove one of them", LineOf(parameterNode.Start));
            }

            parameters.Add(parameter);
        }

        return parameters;
    }

    private static bool DefaultFits(string type, string value) => type switch
    {
        "integer" => long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _),
        "number" => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _),
        "boolean" => value is "true" or "false",
        _ => true,
    };

    private static void CheckToolSource(ToolConfig tool, List<SourceConfig> sources, ConfigErrors errors, int? line)
    {
        var source = sources.FirstOrDefault(s => s.Name == tool.Source);
        if (source is null)
        {
            if (tool.Source.Length > 0)
            {
                errors.Add(tool.Path + ".source", $"unknown source '{tool.Source}' (sources: {(sources.Count == 0 ? "none configured" : string.Join(", ", sources.Select(s => s.Name)))})", line);
            }

            return;
        }

        if (source.Kind == "http" && tool.Http is null)
        {
            errors.Add(tool.Path + ".statement", $"source '{source.Name}' is an HTTP API: a tool over it makes a call, with method and path (such as path: /items/{{id}}), not a SQL statement", line);
        }
        else if (source.Kind != "http" && tool.Http is not null)
        {
            errors.Add(tool.Path + ".path", $"source '{source.Name}' is a database ({source.Kind}): a tool over it runs a statement; {string.Join(", ", HttpToolKeys)} are for http sources", line);
        }
        else if (tool.Shape != StatementShape.Read && source.WritableTable(tool.WritesTable!) is null)
        {
            errors.Add(
                tool.Path + ".statement",
                source.Writable
                    ? $"writes table '{tool.WritesTable}', which is not among the writable tables of source '{source.Name}' ({string.Join(", ", source.WritableTables.Select(t => t.Name))}): add it under sources.{source.Name}.tables"
                    : $"writes table '{tool.WritesTable}' but source '{source.Name}' is read-only: add 'writable: true' and the table under sources.{source.Name}.tables",
                line);
        }
    }

    /// <summary>Why a non-loopback bind address is refused: without authentication anyone on the network could read the data.</summary>
    public static string NonLoopbackRefusal(string address) =>
        $"'{address}' is not a loopback address, and serving data to the network needs authentication: configure auth (oauth, api_keys or mtls), or bind 127.0.0.1 or [::1]";

    private string KnownKinds() => string.Join(", ", _providers.Keys.Order(StringComparer.Ordinal));

    private static int? LineOf(Mark mark) => mark.Line > 0 ? (int)mark.Line : null;

    [GeneratedRegex("^[a-z][a-z0-9_]{0,62}$")]
    private static partial Regex SourceNameRegex();

    [GeneratedRegex(@"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}(,[^,]+)*$")]
    private static partial Regex RedisRegex();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex IdentifierRegex();

    [GeneratedRegex(@"^([A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex QualifiedNameRegex();

    /// <summary>Typed reads of YAML nodes that report errors instead of throwing.</summary>
    private sealed class NodeReader(ConfigErrors errors, Func<string, string?> environment)
    {
        public ConfigErrors Errors { get; } = errors;

        public YamlMappingNode? Mapping(YamlNode node, string path)
        {
            if (node is YamlMappingNode mapping)
            {
                return mapping;
            }

            if (node is not YamlScalarNode { Value: null or "" })
            {
                Errors.Add(path, "must be a mapping of keys to values", LineOf(node.Start));
            }

            return null;
        }

        /// <summary>
        /// The entries of a mapping of named things (tables, topics, parameters), each with its path; a name that does not
        /// match <paramref name="name"/> is reported with <paramref name="problem"/>.
        /// </summary>
        public IEnumerable<(string Name, string Path, YamlNode Key, YamlNode Value)> Named(YamlNode node, string path, Regex name, string problem)
        {
            if (Mapping(node, path) is not { } mapping)
            {
                yield break;
            }

            foreach (var (keyNode, value) in mapping.Children)
            {
                var text = ((YamlScalarNode)keyNode).Value ?? "";
                var entryPath = $"{path}.{text}";
                if (!name.IsMatch(text))
                {
                    Errors.Add(entryPath, problem, ConfigLoader.LineOf(keyNode.Start));
                }

                yield return (text, entryPath, keyNode, value);
            }
        }

        public IEnumerable<(string Key, YamlNode Value, string Path)> Entries(YamlMappingNode mapping, string path, IReadOnlyCollection<string> known)
        {
            foreach (var (keyNode, value) in mapping.Children)
            {
                var key = ((YamlScalarNode)keyNode).Value ?? "";
                if (!known.Contains(key))
                {
                    Errors.Add($"{path}.{key}", $"unknown key (known: {string.Join(", ", known)})", LineOf(keyNode.Start));
                    continue;
                }

                yield return (key, value, $"{path}.{key}");
            }
        }

        public static int? KeyLine(YamlMappingNode mapping, string key) =>
            mapping.Children.Keys.FirstOrDefault(k => k is YamlScalarNode s && s.Value == key) is { } node ? ConfigLoader.LineOf(node.Start) : null;

        public string? Scalar(YamlNode node, string path)
        {
            if (node is not YamlScalarNode scalar)
            {
                Errors.Add(path, "must be a single value, not a list or mapping", ConfigLoader.LineOf(node.Start));
                return null;
            }

            return scalar.Value is null ? null : EnvInterpolation.Expand(scalar.Value, environment, Errors, path, ConfigLoader.LineOf(node.Start));
        }

        /// <summary>A mapping of names to single values as the text of a JSON object of strings (how providers receive mapping settings).</summary>
        public string JsonObject(YamlMappingNode mapping, string path)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                foreach (var (keyNode, value) in mapping.Children)
                {
                    var key = ((YamlScalarNode)keyNode).Value ?? "";
                    json.WriteString(key, Scalar(value, $"{path}.{key}") ?? "");
                }

                json.WriteEndObject();
            }

            return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
        }

        public string[] StringList(YamlNode node, string path)
        {
            if (node is not YamlSequenceNode sequence)
            {
                Errors.Add(path, "must be a list, such as [a, b]", ConfigLoader.LineOf(node.Start));
                return [];
            }

            return sequence.Children.Select((item, i) => Scalar(item, $"{path}[{i}]")).OfType<string>().ToArray();
        }

        public long? Integer(YamlNode node, string path, long min, long max)
        {
            var text = Scalar(node, path);
            if (text is null)
            {
                return null;
            }

            if (!long.TryParse(text.Replace("_", "", StringComparison.Ordinal), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            {
                Errors.Add(path, $"'{text}' must be a whole number from {min} to {max}", ConfigLoader.LineOf(node.Start));
                return null;
            }

            return value;
        }

        public TimeSpan? Duration(YamlNode node, string path, TimeSpan? max = null)
        {
            var text = Scalar(node, path);
            if (text is null)
            {
                return null;
            }

            var limit = max ?? TimeSpan.FromHours(1);
            if (!DurationParser.TryParse(text, out var value) || value <= TimeSpan.Zero || value > limit)
            {
                Errors.Add(path, $"'{text}' is not a duration between 1ms and {(limit.TotalHours >= 24 ? $"{limit.TotalDays:0}d" : "1h")}: write it like 500ms, 10s, 2m or 24h", ConfigLoader.LineOf(node.Start));
                return null;
            }

            return value;
        }

        public Uri? Url(YamlNode node, string path) => Scalar(node, path) switch
        {
            null => null,
            var text when Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme is "http" or "https" => url,
            var text => Report<Uri?>(node, path, $"'{text}' is not an http(s) URL"),
        };

        public bool? Boolean(YamlNode node, string path) => Scalar(node, path) switch
        {
            null => null,
            "true" => true,
            "false" => false,
            var text => Report<bool?>(node, path, $"'{text}' must be true or false"),
        };

        public decimal? Decimal(YamlNode node, string path) => Scalar(node, path) switch
        {
            null => null,
            var text when decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) => value,
            var text => Report<decimal?>(node, path, $"'{text}' must be a number"),
        };

        public string? OneOf(YamlNode node, string path, IReadOnlyCollection<string> allowed) => Scalar(node, path) switch
        {
            null => null,
            var text when allowed.Contains(text) => text,
            var text => Report<string?>(node, path, $"'{text}' is not one of {string.Join(", ", allowed)}"),
        };

        public string? Pattern(YamlNode node, string path)
        {
            var text = Scalar(node, path);
            try
            {
                _ = text is null ? null : new Regex(text, RegexOptions.None, TimeSpan.FromSeconds(1));
                return text;
            }
            catch (ArgumentException e)
            {
                return Report<string?>(node, path, $"not a valid regular expression: {e.Message}");
            }
        }

        private T Report<T>(YamlNode node, string path, string message)
        {
            Errors.Add(path, message, ConfigLoader.LineOf(node.Start));
            return default!;
        }
    }
}
