using System.Text.Json;

namespace Tributary.ConformanceClient;

/// <summary>What the suite tells the client beyond the server URL (MCP_CONFORMANCE_CONTEXT): pre-registered credentials, keys, an identity provider.</summary>
internal sealed class ConformanceContext
{
    private readonly Dictionary<string, string> _values;

    private ConformanceContext(Dictionary<string, string> values) => _values = values;

    /// <summary>The context's string values; empty when the suite passed none.</summary>
    public static ConformanceContext Parse(string? json)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!string.IsNullOrWhiteSpace(json))
        {
            using var document = JsonDocument.Parse(json);
            foreach (var property in document.RootElement.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String))
            {
                values[property.Name] = property.Value.GetString()!;
            }
        }

        return new ConformanceContext(values);
    }

    /// <summary>The value of <paramref name="name"/>, or null.</summary>
    public string? Find(string name) => _values.GetValueOrDefault(name);

    /// <summary>The value of <paramref name="name"/>; its absence is an error that names it.</summary>
    public string Get(string name) => Find(name) ?? throw new InvalidOperationException($"MCP_CONFORMANCE_CONTEXT has no '{name}' for this scenario");
}
