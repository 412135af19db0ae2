using System.Buffers;
using System.Text.Json;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Security;
using Tributary.Core.Sources;
using Tributary.Sources.Http;

namespace Tributary.Server.Mcp;

/// <summary>
/// A configured call to an HTTP API source as a tool: typed parameters placed in the path (each one escaped segment),
/// the query string and the JSON body, and <c>fetch</c>'s result, its body narrowed by the tool's pointer. A GET is a
/// read (cached as <c>fetch</c> is); other methods change something, are never cached, and POST and PATCH are never retried.
/// </summary>
internal sealed class NamedHttpTool(ToolConfig tool, SourceRegistry sources) : TributaryTool(Describe(tool))
{
    // The body goes to an API, not into a web page: the model's text is sent as given (no \u0022 for '"', no \u00E9 for
    // 'é'), escaped only where JSON needs it.
    private static readonly JsonWriterOptions BodyOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly HttpToolConfig _call = tool.Http!;
    private readonly ValueSchema _parameters = NamedTools.Parameters(tool);

    /// <summary>The HTTP source the tool calls.</summary>
    public string Source => tool.Source;

    /// <summary>The HTTP method of its call: GET (a read), POST, PUT, PATCH or DELETE.</summary>
    public string Method => _call.Method;

    /// <inheritdoc />
    public override string? RequiredScope(IReadOnlyDictionary<string, JsonElement>? arguments) => Grants.Tool(tool.Name);

    /// <inheritdoc />
    public override bool IsVisibleTo(Grants grants) => grants.Allows(Grants.Tool(tool.Name));

    private static ModelContextProtocol.Protocol.Tool Describe(ToolConfig tool)
    {
        var call = tool.Http!;
        var description = (tool.Description.Length > 0 ? tool.Description : $"Calls {call.Method} {call.Path.Text} on the HTTP API source '{tool.Source}'.") +
            " Returns {source, status, content_type, cache, body}" + (call.Projection is null ? "." : $", body being the part of the answer at {call.Projection}.");
        var input = NamedTools.InputSchema(NamedTools.Parameters(tool));
        return call.Method == "GET"
            ? ReadOnlyTool(tool.Name, tool.Name, description, input, HttpAnswer.OutputSchema)
            : WriteTool(tool.Name, tool.Name, description, input, HttpAnswer.OutputSchema, tool.Destructive ?? call.Method is "DELETE" or "PUT" or "PATCH", tool.Idempotent ?? call.Method is "DELETE" or "PUT");
    }

    private protected override async ValueTask ExecuteAsync(ToolArguments arguments, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        var (given, claims) = NamedTools.Split(tool, arguments.All, arguments.User);
        var values = NamedTools.Bind(_parameters.Validate(given), given, _parameters, claims).Json;
        var path = _call.Path.Expand(name => Text(values.GetProperty(name)));
        var query = _call.Query.Where(q => values.TryGetProperty(q.Parameter, out _)).Select(q => new KeyValuePair<string, string>(q.Name, Text(values.GetProperty(q.Parameter)))).ToArray();
        byte[]? body = null;
        if (_call.HasBody && _call.Body.Count > 0)
        {
            var buffer = new ArrayBufferWriter<byte>();
            using (var json = new Utf8JsonWriter(buffer, BodyOptions))
            {
                json.WriteStartObject();
                foreach (var (name, parameter) in _call.Body)
                {
                    if (values.TryGetProperty(parameter, out var value))
                    {
                        json.WritePropertyName(name);
                        value.WriteTo(json);
                    }
                }

                json.WriteEndObject();
            }

            body = buffer.WrittenSpan.ToArray();
        }

        var source = (HttpSource)sources.Get(tool.Source);
        var (response, cache) = await source.CallAsync(new UpstreamCall(new HttpMethod(_call.Method), path, query, body, tool.CacheTtl), cancellationToken);
        await HttpAnswer.WriteAsync(tool.Source, sources.Config(tool.Source).MaxResultBytes, response, cache, _call.Projection, output);
    }

    /// <summary>A parameter's value as text for the path or the query string: a string as it is, a number or boolean as written in JSON.</summary>
    private static string Text(JsonElement value) => value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
}
