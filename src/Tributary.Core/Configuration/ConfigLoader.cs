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

    private static readonly string[] ServerKeys = ["http", "allowed_origins", "allowed_hosts", "max_request_bytes", "data_dir", "cursor_secret"];
    private static readonly string[] SourceKeys = ["kind", "description", "statement_timeout", "max_rows", "max_rows_limit", "max_result_bytes"];

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
        foreach (var (keyNode, value) in root.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value ?? "";
            switch (key)
            {
                case "server":
                    server = ReadServer(reader, value);
                    break;
                case "sources":
                    sources = ReadSources(reader, value, new SourceContext(baseDirectory));
                    break;
                default:
                    errors.Add(key, "unknown top-level key (known: server, sources)", LineOf(keyNode.Start));
                    break;
            }
        }

        return new TributaryConfig { Server = server, Sources = sources, BaseDirectory = baseDirectory };
    }

    private static ServerConfig ReadServer(NodeReader reader, YamlNode node)
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
                "allowed_origins" => server with { AllowedOrigins = reader.StringList(value, path) },
                "allowed_hosts" => server with { AllowedHosts = reader.StringList(value, path) },
                "max_request_bytes" => server with { MaxRequestBytes = reader.Integer(value, path, 1024, 1L << 30) ?? server.MaxRequestBytes },
                "data_dir" => server with { DataDir = reader.Scalar(value, path) ?? server.DataDir },
                "cursor_secret" => server with { CursorSecret = reader.Scalar(value, path) },
                _ => server,
            };
        }

        if (!HttpEndpoint.TryParse(server.Http, out var endpoint, out var problem))
        {
            reader.Errors.Add("server.http", problem, NodeReader.KeyLine(mapping, "http"));
        }
        else if (!endpoint.IsLoopback)
        {
            reader.Errors.Add("server.http", NonLoopbackRefusal(server.Http), NodeReader.KeyLine(mapping, "http"));
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
                    case "max_rows_limit":
                        source = source with { MaxRowsLimit = (int)(reader.Integer(value, keyPath, 1, 1_000_000) ?? source.MaxRowsLimit) };
                        break;
                    default:
                        if (value is YamlSequenceNode)
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

            source = source with { Settings = settings };
            provider.Validate(source, context, reader.Errors);
            sources.Add(source);
        }

        return sources;
    }

    /// <summary>Why a non-loopback bind address is refused: without authentication anyone on the network could read the data.</summary>
    public static string NonLoopbackRefusal(string address) =>
        $"'{address}' is not a loopback address, and serving data to the network needs authentication, which this version does not offer yet: bind 127.0.0.1 or [::1]";

    private string KnownKinds() => string.Join(", ", _providers.Keys.Order(StringComparer.Ordinal));

    private static int? LineOf(Mark mark) => mark.Line > 0 ? (int)mark.Line : null;

    [GeneratedRegex("^[a-z][a-z0-9_]{0,62}$")]
    private static partial Regex SourceNameRegex();

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

        public TimeSpan? Duration(YamlNode node, string path)
        {
            var text = Scalar(node, path);
            if (text is null)
            {
                return null;
            }

            if (!DurationParser.TryParse(text, out var value) || value <= TimeSpan.Zero || value > TimeSpan.FromHours(1))
            {
                Errors.Add(path, $"'{text}' is not a duration between 1ms and 1h: write it like 500ms, 10s or 2m", ConfigLoader.LineOf(node.Start));
                return null;
            }

            return value;
        }
    }
}
