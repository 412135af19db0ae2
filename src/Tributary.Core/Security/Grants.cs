using System.Text.RegularExpressions;

namespace Tributary.Core.Security;

/// <summary>
/// What a principal may do, as scopes. A needed scope names one thing: <c>sources:shop:read</c>,
/// <c>sources:shop:write</c>, <c>topics:orders:read</c>, <c>topics:orders:publish</c>, <c>tools:user_orders</c>,
/// <c>audit:read</c>. A granted scope may put <c>*</c> in place of the name (<c>sources:*:read</c>, <c>tools:*</c>),
/// leave the name out (<c>sources:read</c> is <c>sources:*:read</c>), or be <c>*</c> for everything.
/// </summary>
public sealed partial class Grants
{
    private readonly HashSet<string> _scopes;
    private readonly bool _all;

    /// <summary>Grants the given scopes (unknown shapes grant nothing).</summary>
    public Grants(IEnumerable<string> scopes)
    {
        ArgumentNullException.ThrowIfNull(scopes);
        _scopes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var scope in scopes)
        {
            var parts = scope.Split(':');
            // "sources:read" stands for "sources:*:read".
            _scopes.Add(parts is [var kind, var action] && kind is "sources" or "topics" ? $"{kind}:*:{action}" : scope);
        }

        _all = _scopes.Contains("*");
    }

    /// <summary>Everything (no authentication configured, or the local user of a stdio session).</summary>
    public static Grants All { get; } = new(["*"]);

    /// <summary>Nothing.</summary>
    public static Grants None { get; } = new([]);

    /// <summary>The scopes granted, as given (with <c>kind:action</c> written out as <c>kind:*:action</c>).</summary>
    public IReadOnlyCollection<string> Scopes => _scopes;

    /// <summary>True when <paramref name="needed"/> (a scope that names one thing) is granted.</summary>
    public bool Allows(string needed)
    {
        ArgumentNullException.ThrowIfNull(needed);
        if (_all || _scopes.Contains(needed))
        {
            return true;
        }

        var parts = needed.Split(':');
        return parts.Length switch
        {
            3 => _scopes.Contains($"{parts[0]}:*:{parts[2]}"),
            2 => _scopes.Contains($"{parts[0]}:*"),
            _ => false,
        };
    }

    /// <summary>True when some <paramref name="kind"/> (sources, topics) may be used for <paramref name="action"/>.</summary>
    public bool AllowsAny(string kind, string action)
    {
        var suffix = ":" + action;
        var prefix = kind + ":";
        return _all || _scopes.Any(s => s.StartsWith(prefix, StringComparison.Ordinal) && s.EndsWith(suffix, StringComparison.Ordinal));
    }

    /// <summary>True when <paramref name="scope"/> has a shape Tributary knows (so a typo in the configuration is caught).</summary>
    public static bool IsValid(string scope) => ScopeRegex().IsMatch(scope ?? "");

    /// <summary>The scope that reads or writes a source.</summary>
    public static string Source(string source, string action) => $"sources:{source}:{action}";

    /// <summary>The scope that reads or publishes to a topic.</summary>
    public static string Topic(string topic, string action) => $"topics:{topic}:{action}";

    /// <summary>The scope that calls a named tool.</summary>
    public static string Tool(string tool) => $"tools:{tool}";

    /// <summary>The scope that reads the audit log.</summary>
    public const string AuditRead = "audit:read";

    [GeneratedRegex(@"^(\*|sources:(read|write)|topics:(read|publish)|sources:([a-z][a-z0-9_]*|\*):(read|write)|topics:([A-Za-z0-9_.-]+|\*):(read|publish)|tools:([A-Za-z0-9_-]+|\*)|audit:read)$")]
    private static partial Regex ScopeRegex();
}
