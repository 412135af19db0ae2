using System.Text;

namespace Tributary.Core.Queries;

/// <summary>The text of a statement as a cache key sees it: the same statement written with other spacing or comments is the same key.</summary>
public static class StatementText
{
    /// <summary>
    /// <paramref name="sql"/> with comments removed and each run of white space outside quotes made one space, trimmed.
    /// Quoted text (strings, quoted identifiers, dollar quotes) is kept as it is. Where quoting could be misread (a
    /// backslash, which may escape a quote; a nested or unterminated comment or quote), the statement is only trimmed:
    /// two different statements never share a key, at the cost of some that could.
    /// </summary>
    public static string Normalize(string sql)
    {
        ArgumentNullException.ThrowIfNull(sql);
        var trimmed = sql.Trim();
        if (trimmed.Contains('\\', StringComparison.Ordinal))
        {
            return trimmed;
        }

        var text = new StringBuilder(trimmed.Length);
        var space = false;
        for (var i = 0; i < trimmed.Length;)
        {
            var c = trimmed[i];
            var end = c switch
            {
                '\'' or '"' or '`' => Closing(trimmed, i + 1, c.ToString()),
                '[' => Bracket(trimmed, i),
                '$' when DollarTag(trimmed, i) is { } tag => Closing(trimmed, i + tag.Length, tag),
                '-' when At(trimmed, i, "--") => Closing(trimmed, i, "\n") is var line and >= 0 ? line : trimmed.Length,
                '/' when At(trimmed, i, "/*") => Comment(trimmed, i),
                _ => i + 1,
            };
            if (end < 0)
            {
                return trimmed;
            }

            var comment = c is '-' or '/' && end - i > 1;
            if (comment || char.IsWhiteSpace(c))
            {
                space = true;
            }
            else
            {
                if (space && text.Length > 0)
                {
                    text.Append(' ');
                }

                space = false;
                text.Append(trimmed, i, end - i);
            }

            i = end;
        }

        return text.ToString();
    }

    private static bool At(string text, int index, string value) => string.CompareOrdinal(text, index, value, 0, value.Length) == 0;

    /// <summary>The index after the first <paramref name="close"/> from <paramref name="from"/>, or -1 when there is none.</summary>
    private static int Closing(string text, int from, string close)
    {
        var index = text.IndexOf(close, from, StringComparison.Ordinal);
        return index < 0 ? -1 : index + close.Length;
    }

    /// <summary>
    /// The end of a bracket at <paramref name="start"/>: a quoted identifier in SQLite, a subscript in PostgreSQL, kept as
    /// it is either way; -1 when it holds a quote or a comment, which a subscript could end inside of.
    /// </summary>
    private static int Bracket(string text, int start)
    {
        var end = Closing(text, start + 1, "]");
        return end < 0 || text.AsSpan(start, end - start).IndexOfAny("'\"-/") >= 0 ? -1 : end;
    }

    /// <summary>The end of a block comment at <paramref name="start"/>; -1 when it is unterminated or holds another (PostgreSQL nests them, SQLite does not).</summary>
    private static int Comment(string text, int start)
    {
        var end = Closing(text, start + 2, "*/");
        return end < 0 || text.IndexOf("/*", start + 2, end - start - 2, StringComparison.Ordinal) >= 0 ? -1 : end;
    }

    /// <summary>The dollar-quote tag (<c>$$</c>, <c>$name$</c>) at <paramref name="index"/>, or null.</summary>
    private static string? DollarTag(string text, int index)
    {
        var end = index + 1;
        while (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] == '_'))
        {
            end++;
        }

        return end < text.Length && text[end] == '$' && (end == index + 1 || !char.IsAsciiDigit(text[index + 1])) ? text[index..(end + 1)] : null;
    }
}
