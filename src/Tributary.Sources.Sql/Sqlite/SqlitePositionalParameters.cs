using System.Text;

namespace Tributary.Sources.Sql.Sqlite;

/// <summary>
/// Numbers anonymous <c>?</c> parameters (<c>?</c> becomes <c>?1</c>, <c>?2</c>, ...), because Microsoft.Data.Sqlite binds
/// parameters by name only. Skips string literals, quoted identifiers and comments; the result is prepared and
/// checked like any other statement, so a mistake here can only fail a query, never widen what it may do.
/// </summary>
internal static class SqlitePositionalParameters
{
    public static string Number(string sql)
    {
        if (!sql.Contains('?', StringComparison.Ordinal))
        {
            return sql;
        }

        var result = new StringBuilder(sql.Length + 8);
        var next = 1;
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            var skipTo = c switch
            {
                '\'' or '"' or '`' => ClosingQuote(sql, i, c),
                '[' => IndexAfter(sql, "]", i + 1),
                '-' when At(sql, i + 1, '-') => IndexAfter(sql, "\n", i + 2),
                '/' when At(sql, i + 1, '*') => IndexAfter(sql, "*/", i + 2),
                _ => -1,
            };
            if (skipTo >= 0)
            {
                result.Append(sql, i, skipTo - i);
                i = skipTo;
                continue;
            }

            result.Append(c);
            i++;
            if (c == '?')
            {
                if (i < sql.Length && char.IsAsciiDigit(sql[i]))
                {
                    // Explicitly numbered: keep its number and continue after it, as SQLite does.
                    var start = i;
                    while (i < sql.Length && char.IsAsciiDigit(sql[i]))
                    {
                        i++;
                    }

                    result.Append(sql, start, i - start);
                    next = int.Parse(sql.AsSpan(start, i - start), System.Globalization.CultureInfo.InvariantCulture) + 1;
                }
                else
                {
                    result.Append(next++);
                }
            }
        }

        return result.ToString();
    }

    private static bool At(string text, int index, char c) => index < text.Length && text[index] == c;

    private static int IndexAfter(string text, string end, int from)
    {
        var found = text.IndexOf(end, from, StringComparison.Ordinal);
        return found < 0 ? text.Length : found + end.Length;
    }

    private static int ClosingQuote(string text, int open, char quote)
    {
        // A doubled quote inside a quoted run is an escaped quote.
        for (var i = open + 1; i < text.Length; i++)
        {
            if (text[i] == quote)
            {
                if (At(text, i + 1, quote))
                {
                    i++;
                    continue;
                }

                return i + 1;
            }
        }

        return text.Length;
    }
}
