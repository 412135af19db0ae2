using System.Buffers;
using System.Text.Json;
using Tributary.Core;
using Tributary.Core.Security;
using Tributary.Core.Sources;
using Tributary.Sources.Http;

namespace Tributary.Server.Mcp;

/// <summary><c>fetch</c>: a GET of a path under an HTTP API source's base URL, through the SSRF guard, with the source's own credentials.</summary>
public sealed class FetchTool(SourceRegistry sources) : TributaryTool(ReadOnlyTool(
    "fetch",
    "Fetch from an HTTP API source",
    "GETs a path of an HTTP API source (kind 'http' in list_sources) and returns the status and the body (JSON when the API answers JSON), and whether it came from the cache. When the API fails, its last good answer may be returned with stale: true and degraded: true. The path is relative to the source's base URL and starts with '/'; 'query' adds query parameters. The source's own credentials are used. Only the source's allowed hosts are reached, never private networks; an answer over the source's size limit is refused: ask for less (a filter, a page).",
    """
    {"type":"object","required":["source","path"],"additionalProperties":false,"properties":{
      "source":{"type":"string","description":"HTTP API source name, from list_sources"},
      "path":{"type":"string","description":"Path under the base URL, such as /repos/octocat/hello-world/issues"},
      "query":{"type":"object","description":"Query parameters, such as {\"state\":\"open\",\"per_page\":20}","additionalProperties":{"type":["string","number","boolean"]}}}}
    """,
    HttpAnswer.OutputSchema))
{
    /// <inheritdoc />
    public override string? RequiredScope(IReadOnlyDictionary<string, JsonElement>? arguments) =>
        StringArgument(arguments, "source") is { } source ? Grants.Source(source, "read") : null;

    /// <inheritdoc />
    /// <remarks>Listed to a caller who may read at least one HTTP API source.</remarks>
    public override bool IsVisibleTo(Grants grants) => sources.All.Any(s => s is HttpSource && grants.Allows(Grants.Source(s.Name, "read")));

    private protected override async ValueTask ExecuteAsync(ToolArguments arguments, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        var name = arguments.RequiredString("source");
        if (sources.Get(name) is not HttpSource source)
        {
            throw new ToolException($"'{name}' is not an HTTP API source: fetch reads sources of kind http; use query for databases");
        }

        var query = new List<KeyValuePair<string, string>>();
        if (arguments.Get("query") is { } given)
        {
            if (given.ValueKind != JsonValueKind.Object)
            {
                throw new ToolException("'query' must be an object of parameter names and values, such as {\"state\":\"open\"}");
            }

            foreach (var parameter in given.EnumerateObject())
            {
                query.Add(new(parameter.Name, parameter.Value.ValueKind switch
                {
                    JsonValueKind.String => parameter.Value.GetString()!,
                    JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => parameter.Value.GetRawText(),
                    _ => throw new ToolException($"query parameter '{parameter.Name}' must be a string, a number or a boolean"),
                }));
            }
        }

        var (response, cache) = await source.FetchAsync(arguments.RequiredString("path"), query, cancellationToken);
        await HttpAnswer.WriteAsync(name, sources.Config(name).MaxResultBytes, response, cache, null, output);
    }
}
