using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text.Json;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Security;
using Tributary.Server.Mcp;

namespace Tributary.Server.Auth;

/// <summary>
/// Who may do what: the scopes of the caller (<see cref="Grants"/>) against the scope a request needs. Tools, resources,
/// prompts and subscriptions say what they need; this is the one place that decides. Without <c>auth:</c> every caller
/// may do everything (the server then listens on loopback only); a stdio session is the local user who started it, or
/// the API key in <c>TRIBUTARY_API_KEY</c>.
/// </summary>
public sealed class AccessPolicy
{
    /// <summary>The claim type that carries scopes (one scope, or several separated by spaces, per claim).</summary>
    public const string ScopeClaim = "scope";

    private readonly ConditionalWeakTable<ClaimsPrincipal, Grants> _grants = [];
    private readonly Dictionary<string, TributaryTool> _tools;
    private readonly IReadOnlyList<JsonResource> _resources;

    /// <summary>Creates the policy over the server's tools and resources.</summary>
    public AccessPolicy(TributaryConfig config, IEnumerable<McpServerTool> tools, IEnumerable<McpServerResource> resources)
    {
        ArgumentNullException.ThrowIfNull(config);
        Enabled = config.Auth.Enabled;
        _tools = tools.OfType<TributaryTool>().ToDictionary(t => t.ProtocolTool.Name, StringComparer.Ordinal);
        _resources = [.. resources.OfType<JsonResource>()];
    }

    /// <summary>True when authentication is configured.</summary>
    public bool Enabled { get; }

    /// <summary>The grants of a stdio session (set at start-up from <c>TRIBUTARY_API_KEY</c>; all by default).</summary>
    public Grants StdioGrants { get; set; } = Grants.All;

    /// <summary>
    /// What <paramref name="user"/> may do: everything when authentication is off; the stdio grants when there is no HTTP
    /// user (stdio); the user's scope claims when authenticated; nothing otherwise.
    /// </summary>
    public Grants For(ClaimsPrincipal? user) =>
        !Enabled ? Grants.All
        : user is null ? StdioGrants
        : user.Identity?.IsAuthenticated != true ? Grants.None
        : _grants.GetValue(user, static u => new Grants(u.FindAll(ScopeClaim).SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))));

    /// <summary>Throws a <see cref="ToolException"/> naming the scope when <paramref name="user"/> may not use <paramref name="scope"/>.</summary>
    public void Demand(ClaimsPrincipal? user, string? scope)
    {
        if (scope is not null && !For(user).Allows(scope))
        {
            throw new AccessDeniedException(scope);
        }
    }


    /// <summary>True for the methods whose requests can need a scope (<see cref="ScopeFor"/>).</summary>
    public static bool MayNeedScope(string method) =>
        method is RequestMethods.ToolsCall or RequestMethods.ResourcesRead or RequestMethods.ResourcesSubscribe or RequestMethods.SubscriptionsListen or RequestMethods.PromptsGet;

    /// <summary>
    /// The scope a JSON-RPC request needs, from its method and params; null when any principal may send it (lists, which
    /// show only what the caller may use, and protocol housekeeping). An unknown tool or resource needs nothing here: the
    /// server answers it as unknown.
    /// </summary>
    public string? ScopeFor(string method, JsonElement parameters)
    {
        if (parameters.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        switch (method)
        {
            case RequestMethods.ToolsCall:
                return String(parameters, "name") is { } name && _tools.TryGetValue(name, out var tool)
                    ? tool.RequiredScope(parameters.TryGetProperty("arguments", out var arguments) && arguments.ValueKind == JsonValueKind.Object
                        ? new JsonObjectArguments(arguments)
                        : null)
                    : null;
            case RequestMethods.ResourcesRead:
            case RequestMethods.ResourcesSubscribe:
                return String(parameters, "uri") is { } uri ? ScopeForResource(uri) : null;
            case RequestMethods.SubscriptionsListen:
                return parameters.TryGetProperty("notifications", out var notifications) && notifications.ValueKind == JsonValueKind.Object
                    && notifications.TryGetProperty("resourceSubscriptions", out var uris) && uris.ValueKind == JsonValueKind.Array
                    ? uris.EnumerateArray().Where(u => u.ValueKind == JsonValueKind.String).Select(u => ScopeForResource(u.GetString()!)).FirstOrDefault(s => s is not null)
                    : null;
            case RequestMethods.PromptsGet:
                var promptArguments = parameters.TryGetProperty("arguments", out var given) ? given : default;
                return String(parameters, "name") switch
                {
                    AnalyzeLogsPrompt.PromptName when String(promptArguments, "topic") is { } topic => Grants.Topic(topic, "read"),
                    GenerateModelsPrompt.PromptName when String(promptArguments, "source") is { } source => Grants.Source(source, "read"),
                    _ => null,
                };
            default:
                return null;
        }
    }

    /// <summary>The first scope of <paramref name="scopes"/> that <paramref name="user"/> lacks, or null.</summary>
    public string? Missing(ClaimsPrincipal? user, IEnumerable<string?> scopes)
    {
        var grants = For(user);
        return scopes.FirstOrDefault(s => s is not null && !grants.Allows(s));
    }

    /// <summary>True when <c>tools/list</c> shows the tool called <paramref name="name"/> to a caller with <paramref name="grants"/>.</summary>
    public bool ToolVisible(string name, Grants grants) => !_tools.TryGetValue(name, out var tool) || tool.IsVisibleTo(grants);

    /// <summary>True when the resource or template at <paramref name="uri"/> is listed to a caller with <paramref name="grants"/>.</summary>
    public bool ResourceVisible(string uri, Grants grants) =>
        _resources.FirstOrDefault(r => r.ProtocolResource?.Uri == uri || r.ProtocolResourceTemplate.UriTemplate == uri) is not { } resource || resource.IsVisibleTo(grants);

    /// <summary>The scope reading the resource at <paramref name="uri"/> needs.</summary>
    public string? ScopeForResource(string uri) => _resources.FirstOrDefault(r => r.IsMatch(uri))?.RequiredScope(uri);

    private static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>
/// The arguments of a <c>tools/call</c> as the JSON object they came in, looked up in place (no dictionary is built). As
/// when the SDK reads them into a dictionary, the last of repeated names wins.
/// </summary>
internal sealed class JsonObjectArguments(JsonElement arguments) : IReadOnlyDictionary<string, JsonElement>
{
    public JsonElement this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException(key);

    public IEnumerable<string> Keys => this.Select(p => p.Key);

    public IEnumerable<JsonElement> Values => this.Select(p => p.Value);

    public int Count
    {
        get
        {
            var count = 0;
            using var pairs = GetEnumerator();
            while (pairs.MoveNext())
            {
                count++;
            }

            return count;
        }
    }

    public bool ContainsKey(string key) => TryGetValue(key, out _);

    public bool TryGetValue(string key, out JsonElement value) => arguments.TryGetProperty(key, out value);

    public IEnumerator<KeyValuePair<string, JsonElement>> GetEnumerator() =>
        arguments.EnumerateObject().GroupBy(p => p.Name, StringComparer.Ordinal).Select(g => KeyValuePair.Create(g.Key, g.Last().Value)).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>A call the caller's scopes do not allow: a tool error for tools, an invalid request for other methods.</summary>
public sealed class AccessDeniedException(string scope)
    : ToolException($"permission denied: this needs the scope '{scope}', which your credentials do not grant")
{
    /// <summary>The scope that was needed.</summary>
    public string Scope { get; } = scope;
}
