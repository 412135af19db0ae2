using System.Text.Json;
using Tributary.Core;

namespace Tributary.Server.Mcp;

/// <summary>
/// Typed reads of a tool call's arguments (a missing or mistyped argument is a <see cref="ToolException"/> naming it),
/// and who is calling.
/// </summary>
internal readonly struct ToolArguments(IDictionary<string, JsonElement>? arguments, System.Security.Claims.ClaimsPrincipal? user = null, Tributary.Core.Security.Grants? grants = null)
{
    /// <summary>What the caller may do (everything when authentication is off).</summary>
    public Tributary.Core.Security.Grants Grants => grants ?? Tributary.Core.Security.Grants.All;

    /// <summary>The caller, when the transport authenticates one.</summary>
    public System.Security.Claims.ClaimsPrincipal? User => user;

    /// <summary>Every argument as sent.</summary>
    public IDictionary<string, JsonElement> All => arguments ?? new Dictionary<string, JsonElement>();

    /// <summary>The authenticated caller's name, or <c>anonymous</c> when the transport has no authentication.</summary>
    public string Principal => user?.Identity?.Name is { Length: > 0 } name ? name : "anonymous";

    public bool Boolean(string name) => Get(name) switch
    {
        null => false,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw new ToolException($"'{name}' must be true or false"),
    };

    public JsonElement? Get(string name) =>
        arguments is not null && arguments.TryGetValue(name, out var value) && value.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined) ? value : null;

    public string? String(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } value => value.GetString(),
        _ => throw new ToolException($"'{name}' must be a string"),
    };

    public string RequiredString(string name) =>
        String(name) is { Length: > 0 } value ? value : throw new ToolException($"'{name}' is required (a non-empty string)");

    public int? Integer(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } value when value.TryGetInt32(out var number) => number,
        _ => throw new ToolException($"'{name}' must be a whole number"),
    };
}
