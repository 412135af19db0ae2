using YamlDotNet.RepresentationModel;

namespace Tributary.Core.Configuration;

/// <summary>The call of a named tool over an <c>http</c> source: <c>method</c>, <c>path</c>, <c>query</c>, <c>body</c>, <c>pointer</c>.</summary>
public sealed partial class ConfigLoader
{
    /// <summary>The call from its keys in <paramref name="call"/>, checked against the tool's <paramref name="parameters"/>; null when something is wrong.</summary>
    private static HttpToolConfig? ReadHttpCall(NodeReader reader, Dictionary<string, YamlNode> call, string path, List<ToolParameterConfig> parameters)
    {
        var before = reader.Errors.All.Count;
        var method = call.TryGetValue("method", out var methodNode) ? reader.Scalar(methodNode, path + ".method")?.ToUpperInvariant() : "GET";
        if (method is not null && !HttpToolConfig.Methods.Contains(method))
        {
            reader.Errors.Add(path + ".method", $"'{method}' is not a method a tool may use: {string.Join(", ", HttpToolConfig.Methods)}", LineOf(methodNode!.Start));
        }

        PathTemplate? template = null;
        if ((call.TryGetValue("path", out var pathNode) ? reader.Scalar(pathNode, path + ".path") : null) is not { Length: > 0 } text)
        {
            reader.Errors.Add(path + ".path", "missing: give the path under the source's base URL, with parameters as {name}, such as /repos/{owner}/{repo}/issues");
        }
        else
        {
            template = PathTemplate.Parse(text, out var problem);
            if (problem is not null)
            {
                reader.Errors.Add(path + ".path", $"'{text}' {problem}", LineOf(pathNode!.Start));
            }
        }

        var query = call.TryGetValue("query", out var queryNode) ? Mappings(reader, queryNode, path + ".query") : [];
        var body = call.TryGetValue("body", out var bodyNode) ? Mappings(reader, bodyNode, path + ".body") : [];
        var tool = new HttpToolConfig { Method = method ?? "GET", Path = template!, Query = query, Body = body };
        if (body.Count > 0 && !tool.HasBody)
        {
            reader.Errors.Add(path + ".body", $"a {tool.Method} sends no body (only POST, PUT and PATCH do): send these parameters under query instead", LineOf(bodyNode!.Start));
        }

        if (call.TryGetValue("pointer", out var pointerNode) && reader.Scalar(pointerNode, path + ".pointer") is { } pointerText)
        {
            tool = tool with { Projection = JsonPointer.Parse(pointerText, out var problem) };
            if (problem is not null)
            {
                reader.Errors.Add(path + ".pointer", $"'{pointerText}' is not a JSON pointer: {problem}", LineOf(pointerNode.Start));
            }
        }

        // Each parameter goes to exactly one place, and each place names a declared parameter.
        var uses = (template?.Names ?? []).Select(n => (Name: n, Where: "path")).Concat(query.Select(q => (Name: q.Parameter, Where: "query"))).Concat(body.Select(b => (Name: b.Parameter, Where: "body"))).ToArray();
        foreach (var use in uses.GroupBy(u => u.Name, StringComparer.Ordinal))
        {
            var places = use.Select(u => u.Where).ToArray();
            if (parameters.All(p => p.Name != use.Key))
            {
                reader.Errors.Add($"{path}.{places[0]}", $"uses '{use.Key}', which is not a declared parameter: add it under parameters");
            }
            else if (places.Length > 1)
            {
                reader.Errors.Add($"{path}.parameters.{use.Key}", $"is sent more than once ({string.Join(", ", places)}): send each parameter in one place");
            }
        }

        foreach (var parameter in parameters)
        {
            if (!uses.Any(u => u.Name == parameter.Name))
            {
                reader.Errors.Add($"{path}.parameters.{parameter.Name}", $"declared but never sent: put it in the path as {{{parameter.Name}}}, or under query or body");
            }
            else if (template is not null && template.Names.Contains(parameter.Name) && !parameter.Required && parameter.Default is null && parameter.FromClaim is null)
            {
                reader.Errors.Add($"{path}.parameters.{parameter.Name}", "is part of the path, so it always needs a value: make it required or give it a default");
            }
        }

        return reader.Errors.All.Count > before ? null : tool;
    }

    /// <summary>Parameters sent under the API's names: a list of parameter names (sent under their own names), or a mapping of the API's names to parameters.</summary>
    private static List<ParameterMapping> Mappings(NodeReader reader, YamlNode node, string path)
    {
        switch (node)
        {
            case YamlSequenceNode:
                return [.. reader.StringList(node, path).Select(name => new ParameterMapping(name, name))];
            case YamlMappingNode mapping:
                return [.. mapping.Children.Select(e => (Name: ((YamlScalarNode)e.Key).Value ?? "", Parameter: reader.Scalar(e.Value, $"{path}.{((YamlScalarNode)e.Key).Value}")))
                    .Where(e => e.Parameter is not null).Select(e => new ParameterMapping(e.Name, e.Parameter!))];
            default:
                reader.Errors.Add(path, "must be a list of parameters, such as [state, labels], or a mapping of the API's names to parameters, such as { per_page: limit }", LineOf(node.Start));
                return [];
        }
    }
}
