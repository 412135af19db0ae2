namespace Tributary.Core.Configuration;

/// <summary>One configuration problem: where it is and what to change.</summary>
/// <param name="Path">Dotted path of the key, such as <c>sources.shop.kind</c>.</param>
/// <param name="Message">What is wrong and what to change.</param>
/// <param name="Line">1-based line in the file, when known.</param>
public sealed record ConfigError(string Path, string Message, int? Line = null)
{
    /// <inheritdoc />
    public override string ToString() => Line is { } line ? $"{Path} (line {line}): {Message}" : $"{Path}: {Message}";
}

/// <summary>Collects every configuration error, so the user sees them all at once.</summary>
public sealed class ConfigErrors
{
    private readonly List<ConfigError> _errors = [];

    /// <summary>The errors so far, in the order found.</summary>
    public IReadOnlyList<ConfigError> All => _errors;

    /// <summary>True when nothing was reported.</summary>
    public bool IsEmpty => _errors.Count == 0;

    /// <summary>Reports a problem at <paramref name="path"/>.</summary>
    public void Add(string path, string message, int? line = null) => _errors.Add(new ConfigError(path, message, line));
}

/// <summary>Thrown when a configuration cannot be used; carries every error found.</summary>
public sealed class ConfigException : Exception
{
    /// <summary>Creates the exception from the collected errors.</summary>
    public ConfigException(IReadOnlyList<ConfigError> errors)
        : base("Invalid configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  " + e)))
    {
        Errors = errors;
    }

    /// <summary>Every error found.</summary>
    public IReadOnlyList<ConfigError> Errors { get; }
}
