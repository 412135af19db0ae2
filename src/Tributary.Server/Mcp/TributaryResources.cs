using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Microsoft.Extensions.DependencyInjection;
using Tributary.Core;
using Tributary.Core.Security;
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
        // {name} is one path segment; a trailing {?a,b} (RFC 6570 form-style query) matches an optional query string.
        var pattern = Regex.Replace(Regex.Escape(uriTemplate), @"\\\{\\\?[\w,]+}$", "(?:\\?(?<query>[^#]*))?");
        _pattern = new Regex(
            "^" + Regex.Replace(pattern, @"\\\{(\w+)}", "(?<$1>[^/?#]+)") + "$",
            RegexOptions.CultureInvariant,
            TimeSpan.FromMilliseconds(100));
    }

    /// <inheritdoc />
    public override ResourceTemplate ProtocolResourceTemplate { get; }

    /// <inheritdoc />
    public override IReadOnlyList<object> Metadata => [];

    /// <inheritdoc />
    public override bool IsMatch(string uri) => _pattern.IsMatch(uri);

    /// <summary>The scope reading <paramref name="uri"/> needs; null when any caller may read it.</summary>
    public string? RequiredScope(string uri) => Scope(Values(uri));

    /// <summary>True when the resource (or template) is listed to a caller with <paramref name="grants"/>.</summary>
    public virtual bool IsVisibleTo(Grants grants) => true;

    /// <summary>The scope reading the resource with these template values needs; null for any caller.</summary>
    protected virtual string? Scope(IReadOnlyDictionary<string, string> values) => null;

    private Dictionary<string, string> Values(string uri) =>
        // Path segments are unescaped here; a query string is left encoded for the resource to split first.
        _pattern.Match(uri).Groups.Values.Where(g => g.Name != "0").ToDictionary(g => g.Name, g => g.Name == "query" ? g.Value : Uri.UnescapeDataString(g.Value));

    /// <inheritdoc />
    public override async ValueTask<ReadResourceResult> ReadAsync(RequestContext<ReadResourceRequestParams> request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var uri = request.Params!.Uri;
        var values = Values(uri);
        try
        {
            var grants = Grants.All;
            if (request.Services?.GetService<Auth.AccessPolicy>() is { Enabled: true } policy)
            {
                policy.Demand(request.User, Scope(values));
                grants = policy.For(request.User);
            }

            using var output = new PooledBufferWriter();
            await ReadJsonAsync(values, grants, output, cancellationToken);
            return new ReadResourceResult
            {
                Contents = [new TextResourceContents { Uri = uri, MimeType = "application/json", Text = Encoding.UTF8.GetString(output.WrittenSpan) }],
            };
        }
        catch (Auth.AccessDeniedException e)
        {
            throw new McpProtocolException(e.Message, McpErrorCode.InvalidRequest);
        }
        catch (ToolException e)
        {
            throw new McpProtocolException(e.Message, McpErrorCode.ResourceNotFound);
        }
    }

    /// <summary>Writes the resource's JSON for the template's values to <paramref name="output"/>.</summary>
    protected abstract Task ReadJsonAsync(IReadOnlyDictionary<string, string> values, Grants grants, IBufferWriter<byte> output, CancellationToken cancellationToken);
}

/// <summary>A JSON resource at one fixed URI, listed by <c>resources/list</c>.</summary>
public abstract class FixedJsonResource : JsonResource
{
    /// <summary>Creates the resource at <paramref name="uri"/>.</summary>
    protected FixedJsonResource(string uri, string name, string title, string description)
        : base(uri, name, title, description)
    {
        ProtocolResource = new Resource { Uri = uri, Name = name, Title = title, Description = description, MimeType = "application/json" };
    }

    /// <inheritdoc />
    public override Resource? ProtocolResource { get; }
}

/// <summary><c>tributary://sources</c>: the sources, as <c>list_sources</c> returns them.</summary>
public sealed class SourcesResource(SourceRegistry sources, Tributary.Topics.TopicRegistry topics) : FixedJsonResource(
    "tributary://sources", "sources", "Data sources", "The data sources: name, kind, description, read-only flag and table count.")
{
    /// <inheritdoc />
    protected override Task ReadJsonAsync(IReadOnlyDictionary<string, string> values, Grants grants, IBufferWriter<byte> output, CancellationToken cancellationToken) =>
        ListSourcesTool.WriteAsync(sources, topics, grants, output, cancellationToken);
}

/// <summary><c>tributary://sources/{source}/schema</c>: a source's whole schema.</summary>
public sealed class SchemaResource(SourceRegistry sources) : JsonResource(
    "tributary://sources/{source}/schema", "source_schema", "Source schema", "Tables and views of a source with columns, keys, indexes and constraints.")
{
    /// <inheritdoc />
    public override bool IsVisibleTo(Grants grants) => grants.AllowsAny("sources", "read");

    /// <inheritdoc />
    protected override string? Scope(IReadOnlyDictionary<string, string> values) => Grants.Source(values["source"], "read");

    /// <inheritdoc />
    protected override Task ReadJsonAsync(IReadOnlyDictionary<string, string> values, Grants grants, IBufferWriter<byte> output, CancellationToken cancellationToken) =>
        DescribeSchemaTool.WriteAsync(sources.Get(values["source"]), null, output, cancellationToken);
}

/// <summary><c>tributary://sources/{source}/tables/{table}</c>: one table's schema.</summary>
public sealed class TableResource(SourceRegistry sources) : JsonResource(
    "tributary://sources/{source}/tables/{table}", "source_table", "Table schema", "One table or view of a source with its columns, keys, indexes and constraints.")
{
    /// <inheritdoc />
    public override bool IsVisibleTo(Grants grants) => grants.AllowsAny("sources", "read");

    /// <inheritdoc />
    protected override string? Scope(IReadOnlyDictionary<string, string> values) => Grants.Source(values["source"], "read");

    /// <inheritdoc />
    protected override Task ReadJsonAsync(IReadOnlyDictionary<string, string> values, Grants grants, IBufferWriter<byte> output, CancellationToken cancellationToken) =>
        DescribeSchemaTool.WriteAsync(sources.Get(values["source"]), values["table"], output, cancellationToken);
}

/// <summary><c>tributary://audit</c>: the newest 100 writes of the audit log.</summary>
public sealed class AuditResource(State.StateStore state) : FixedJsonResource(
    "tributary://audit", "audit", "Audit log", "The newest 100 writes: time, principal, tool, source, table, key, rows, and digests of the row before and after.")
{
    /// <inheritdoc />
    public override bool IsVisibleTo(Grants grants) => grants.Allows(Grants.AuditRead);

    /// <inheritdoc />
    protected override string? Scope(IReadOnlyDictionary<string, string> values) => Grants.AuditRead;

    /// <inheritdoc />
    protected override Task ReadJsonAsync(IReadOnlyDictionary<string, string> values, Grants grants, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        using var json = new System.Text.Json.Utf8JsonWriter(output);
        State.AuditJson.Write(state.ReadAudit(100), json);
        return Task.CompletedTask;
    }
}

/// <summary>
/// <c>tributary://topics/{topic}{?types,source,min_severity,message,fields,after,limit}</c>: a topic's events (the newest
/// 50, or those after a cursor) and the cursor to read on from with <c>read_events</c>; the query filters them.
/// </summary>
internal sealed class TopicResource(Tributary.Topics.TopicRegistry topics, Tributary.Topics.IEventStore store) : JsonResource(
    TopicQuery.Template, "topic", "Topic",
    "A topic's newest events (or those after ?after=cursor), filtered by ?types=a,b&source=&min_severity=&message=regex&fields={json}, and its cursor: pass the cursor to read_events as 'after' to follow it. Subscriptions to the URI honour its filters.")
{
    /// <inheritdoc />
    public override bool IsVisibleTo(Grants grants) => grants.AllowsAny("topics", "read");

    /// <inheritdoc />
    protected override string? Scope(IReadOnlyDictionary<string, string> values) => Grants.Topic(values["topic"], "read");

    /// <inheritdoc />
    protected override async Task ReadJsonAsync(IReadOnlyDictionary<string, string> values, Grants grants, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        var (topic, filter, after, limit) = TopicQuery.Parse(values["topic"], values.GetValueOrDefault("query") ?? "", topics);
        var last = await store.LastSequenceAsync(cancellationToken);
        var events = after is { } given
            ? await store.ReadAsync(topic.Name, ReadEventsTool.CheckCursor(given, last), limit, filter, cancellationToken)
            : await store.ReadLatestAsync(topic.Name, limit, filter, cancellationToken);
        var cursor = ReadEventsTool.NextCursor(events, limit, after, last);
        await using var json = new System.Text.Json.Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("topic"u8, topic.Name);
        json.WriteString("description"u8, topic.Description);
        json.WriteStartArray("events"u8);
        foreach (var e in events)
        {
            ReadEventsTool.WriteEvent(json, e);
        }

        json.WriteEndArray();
        json.WriteNumber("cursor"u8, cursor);
        json.WriteEndObject();
    }
}
