using Tributary.Core.Sources;

namespace Tributary.Sources.Sql.Sqlite;

/// <summary>
/// Finds CHECK constraints in a table's CREATE statement: SQLite keeps them nowhere else.
/// Scans tokens outside strings and quoted names, and takes each CHECK's balanced parentheses.
/// </summary>
internal static class SqliteCheckParser
{
    public static IReadOnlyList<CheckConstraintSchema> Parse(string? createSql)
    {
        if (createSql is null)
        {
            return [];
        }

        var checks = new List<CheckConstraintSchema>();
        string? pendingName = null;
        string? previousWord = null;
        var i = 0;
        while (i < createSql.Length)
        {
            var c = createSql[i];
            if (c is '\'' or '"' or '`' or '[')
            {
                var close = c == '[' ? ']' : c;
                var end = createSql.IndexOf(close, i + 1);
                var word = end < 0 ? createSql[(i + 1)..] : createSql[(i + 1)..end];
                if (string.Equals(previousWord, "CONSTRAINT", StringComparison.OrdinalIgnoreCase))
                {
                    pendingName = word;
                }

                previousWord = word;
                i = end < 0 ? createSql.Length : end + 1;
                continue;
            }

            if (char.IsLetter(c) || c == '_')
            {
                var start = i;
                while (i < createSql.Length && (char.IsLetterOrDigit(createSql[i]) || createSql[i] == '_'))
                {
                    i++;
                }

                var word = createSql[start..i];
                if (string.Equals(previousWord, "CONSTRAINT", StringComparison.OrdinalIgnoreCase))
                {
                    pendingName = word;
                }
                else if (string.Equals(word, "CHECK", StringComparison.OrdinalIgnoreCase))
                {
                    var open = createSql.IndexOf('(', i);
                    var close = open < 0 ? -1 : MatchingParenthesis(createSql, open);
                    if (close > open)
                    {
                        checks.Add(new CheckConstraintSchema(pendingName, createSql[(open + 1)..close].Trim()));
                        i = close + 1;
                    }

                    pendingName = null;
                }

                previousWord = word;
                continue;
            }

            if (c == ',')
            {
                pendingName = null;
            }

            i++;
        }

        return checks;
    }

    private static int MatchingParenthesis(string text, int open)
    {
        var depth = 0;
        for (var i = open; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '\'':
                    i = text.IndexOf('\'', i + 1);
                    if (i < 0)
                    {
                        return -1;
                    }

                    break;
                case '(':
                    depth++;
                    break;
                case ')':
                    if (--depth == 0)
                    {
                        return i;
                    }

                    break;
            }
        }

        return -1;
    }
}
