using System.Text;
using System.Text.RegularExpressions;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tributary.Core;
using Tributary.Core.Sources;

namespace Tributary.Server.Mcp;

/// <summary>
/// A JSON resource: a fixed URI or a URI template whose <c>{name}</c> parts are matched as single path segments.
/// Errors the model can act on (an unknown source or table) become <c>-32002</c> resource-not-found errors.
/// </summary>
public abstract class JsonResource : McpServerResource
{
    private readonly Regex _pattern;

    /// <summary>Creates the resource for <paramref name="uriTemplate"/>.</summary>
    protected JsonResource(string uriTemplate, string name, string title, string description)
    {
        ProtocolResourceTemplate = new ResourceTemplate
        {
            UriTemplate = uriTemplate,
            Name = name,
            Title = title,
            Description = description,
            MimeType = "application/json",
        };
        _pattern = new Regex(
            "^" + Regex.Replace(Regex.Escape(uriTemplate), @"\\\{(\w+)}", "(?<$1>[^/?#]+)") + "$",
            RegexOptions.CultureInvariant,
            TimeSpan.FromMilliseconds(100));
    }

    /// <inheritdoc />
    public override ResourceTemplate ProtocolResourceTemplate { get; }

    /// <inheritdoc />
    public override IReadOnlyList<object> Metadata => [];

    /// <inheritdoc />
    public override bool IsMatch(string uri) => _pattern.IsMatch(uri);

    /// <inheritdoc />
    public override async ValueTask<ReadResourceResult> ReadAsync(RequestContext<ReadResourceRequestParams> request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var uri = request.Params!.Uri;
        var match = _pattern.Match(uri);
        var values = match.Groups.Values.Where(g => g.Name != "0").ToDictionary(g => g.Name, g => Uri.UnescapeDataString(g.Value));
        try
        {
            var json = await ReadJsonAsync(values, cancellationToken);
            return new ReadResourceResult
            {
                Contents = [new TextResourceContents { Uri = uri, MimeType = "application/json", Text = Encoding.UTF8.GetString(json.Span) }],
            };
        }
        catch (ToolException e)
        {
            throw new McpProtocolException(e.Message, McpErrorCode.ResourceNotFound);
        }
    }

    /// <summary>Produces the resource's JSON from the template's values.</summary>
    protected abstract ValueTask<ReadOnlyMemory<byte>> ReadJsonAsync(IReadOnlyDictionary<string, string> values, CancellationToken cancellationToken);
}

/// <summary><c>tributary://sources</c>: the sources, as <c>list_sources</c> returns them.</summary>
public sealed class SourcesResource(SourceRegistry sources) : JsonResource(
    "tributary://sources", "sources", "Data sources", "The data sources: name, kind, description, read-only flag and table count.")
{
    /// <inheritdoc />
    public override Resource? ProtocolResource { get; } = new()
    {
        Uri = "tributary://sources",
        Name = "sources",
        Title = "Data sources",
        Description = "The data sources: name, kind, description, read-only flag and table count.",
        MimeType = "application/json",
    };

    /// <inheritdoc />
    protected override async ValueTask<ReadOnlyMemory<byte>> ReadJsonAsync(IReadOnlyDictionary<string, string> values, CancellationToken cancellationToken) =>
        await ListSourcesTool.WriteAsync(sources, cancellationToken);
}

/// <summary><c>tributary://sources/{source}/schema</c>: a source's whole schema.</summary>
public sealed class SchemaResource(SourceRegistry sources) : JsonResource(
    "tributary://sources/{source}/schema", "source_schema", "Source schema", "Tables and views of a source with columns, keys, indexes and constraints.")
{
    /// <inheritdoc />
    protected override async ValueTask<ReadOnlyMemory<byte>> ReadJsonAsync(IReadOnlyDictionary<string, string> values, CancellationToken cancellationToken) =>
        await DescribeSchemaTool.WriteAsync(sources.Get(values["source"]), null, cancellationToken);
}

/// <summary><c>tributary://sources/{source}/tables/{table}</c>: one table's schema.</summary>
public sealed class TableResource(SourceRegistry sources) : JsonResource(
    "tributary://sources/{source}/tables/{table}", "source_table", "Table schema", "One table or view of a source with its columns, keys, indexes and constraints.")
{
    /// <inheritdoc />
    protected override async ValueTask<ReadOnlyMemory<byte>> ReadJsonAsync(IReadOnlyDictionary<string, string> values, CancellationToken cancellationToken) =>
        await DescribeSchemaTool.WriteAsync(sources.Get(values["source"]), values["table"], cancellationToken);
}
