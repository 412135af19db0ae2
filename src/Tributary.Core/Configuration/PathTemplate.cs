namespace Tributary.Core.Configuration;

/// <summary>
/// A path under an HTTP source's base URL with <c>{name}</c> placeholders, such as <c>/repos/{owner}/{repo}/issues</c>.
/// Each value is percent-escaped, so it stays inside its one segment: <c>/</c>, <c>?</c>, <c>#</c> and <c>%</c> arrive
/// escaped, and a segment that would come out as <c>.</c>, <c>..</c> or empty is refused.
/// </summary>
public sealed class PathTemplate
{
    // Each segment alternates literal text and placeholder names: [literal, name, literal, ...], literals first and last.
    private readonly string[][] _segments;

    private PathTemplate(string text, string[][] segments)
    {
        Text = text;
        _segments = segments;
        Names = segments.SelectMany(s => s.Where((_, i) => i % 2 == 1)).ToArray();
    }

    /// <summary>The template as written.</summary>
    public string Text { get; }

    /// <summary>The placeholders' names, in order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Parses <paramref name="text"/>; null with the <paramref name="problem"/> when it is not a path template.</summary>
    public static PathTemplate? Parse(string text, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(text);
        problem = !text.StartsWith('/') || text.StartsWith("//", StringComparison.Ordinal)
            ? "must start with a single '/', such as /repos/{owner}/{repo}/issues"
            : text.FirstOrDefault(c => c is '?' or '#' or '\\' || char.IsWhiteSpace(c) || char.IsControl(c)) is var bad and not '\0'
                ? $"may not hold '{bad}' (query parameters go under query, values under parameters)"
                : null;
        var segments = new List<string[]>();
        foreach (var segment in text[1..].Split('/'))
        {
            if (problem is not null)
            {
                break;
            }

            var parts = new List<string>();
            var rest = segment;
            while (problem is null)
            {
                var open = rest.IndexOf('{', StringComparison.Ordinal);
                var close = rest.IndexOf('}', StringComparison.Ordinal);
                if (open < 0 && close < 0)
                {
                    parts.Add(rest);
                    break;
                }

                var name = open >= 0 && close > open ? rest[(open + 1)..close] : null;
                if (name is null || name.Length == 0 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c == '_')) || char.IsAsciiDigit(name[0]))
                {
                    problem = $"'{segment}' is not a segment with {{name}} placeholders: a name is letters, digits and '_' between braces";
                }
                else if (parts.Count > 0 && open == 0)
                {
                    problem = $"'{segment}' has two placeholders side by side: put literal text between them";
                }

                parts.Add(rest[..Math.Max(open, 0)]);
                parts.Add(name ?? "");
                rest = rest[(close + 1)..];
            }

            if (parts.Count == 1 && parts[0] is "." or "..")
            {
                problem = "may not have '.' or '..' segments";
            }

            segments.Add([.. parts]);
        }

        return problem is null ? new PathTemplate(text, [.. segments]) : null;
    }

    /// <summary>
    /// The path with each placeholder replaced by its escaped value from <paramref name="value"/>; a value that would
    /// leave a segment empty, <c>.</c> or <c>..</c> is a <see cref="ToolException"/> naming the parameter.
    /// </summary>
    public string Expand(Func<string, string> value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var path = new System.Text.StringBuilder();
        foreach (var parts in _segments)
        {
            var segment = new System.Text.StringBuilder();
            for (var i = 0; i < parts.Length; i++)
            {
                segment.Append(i % 2 == 0 ? parts[i] : Uri.EscapeDataString(value(parts[i])));
            }

            if (parts.Length > 1 && segment.ToString() is "" or "." or "..")
            {
                var names = string.Join("', '", parts.Where((_, i) => i % 2 == 1));
                throw new ToolException($"'{names}' may not be empty, '.' or '..': each is one segment of the path {Text}");
            }

            path.Append('/').Append(segment);
        }

        return path.ToString();
    }
}
