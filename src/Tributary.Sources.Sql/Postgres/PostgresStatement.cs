using System.Globalization;
using System.Text;
using Tributary.Core;
using Tributary.Core.Queries;

namespace Tributary.Sources.Sql.Postgres;

/// <summary>
/// One PostgreSQL statement made ready to send: <c>@name</c> parameters turned into <c>$n</c>, values in position order.
/// The lexer understands strings, quoted identifiers, dollar quotes and comments, so it finds the statement's first
/// keyword, a second statement and the functions it calls. These checks are a layer in front of the engine's own
/// (the read-only transaction, and a single Parse message that PostgreSQL refuses to hold two commands), never instead.
/// </summary>
internal sealed class PostgresStatement
{
    /// <summary>First keywords of the statements <c>query</c> accepts: reads only.</summary>
    private static readonly HashSet<string> ReadKeywords = new(StringComparer.OrdinalIgnoreCase) { "select", "with", "values", "table", "show", "explain" };

    /// <summary>
    /// Functions refused in queries: they change session state that outlives the transaction, reach the server's files or
    /// other backends, or open connections elsewhere. The read-only transaction blocks writes to tables; these are not writes.
    /// </summary>
    private static readonly HashSet<string> DeniedFunctions = new(StringComparer.OrdinalIgnoreCase)
    {
        "set_config", "pg_advisory_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_lock_shared",
        "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "pg_promote",
        "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir", "pg_ls_waldir", "pg_ls_tmpdir",
        "lo_import", "lo_export", "lo_unlink", "lo_from_bytea", "lo_put", "lo_create", "lo_creat",
        "dblink", "dblink_exec", "dblink_connect", "dblink_send_query", "pg_notify", "pg_logical_emit_message",
        "pg_create_restore_point", "pg_switch_wal", "pg_file_write", "pg_file_unlink", "pg_file_rename",
    };

    /// <summary>Analyses of statement texts, so a statement a model or a named tool repeats is lexed once.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Analysis> Analyses = new(StringComparer.Ordinal);
    private const int MaxAnalyses = 1024;

    private PostgresStatement(string sql, object?[] values, string firstKeyword)
    {
        Sql = sql;
        Values = values;
        FirstKeyword = firstKeyword;
    }

    /// <summary>The text to send, with positional <c>$n</c> parameters only.</summary>
    public string Sql { get; }

    /// <summary>The parameter values for <c>$1</c>, <c>$2</c>, ...</summary>
    public object?[] Values { get; }

    /// <summary>The statement's first keyword, lowercase.</summary>
    public string FirstKeyword { get; }

    /// <summary>Prepares a statement for <c>query</c>: one read statement that calls no denied function.</summary>
    public static PostgresStatement ForQuery(string sql, IReadOnlyList<QueryParameter> parameters, string sourceName)
    {
        var analysis = Analyze(sql);
        if (!ReadKeywords.Contains(analysis.FirstKeyword))
        {
            throw new ToolException(
                $"source '{sourceName}' is read-only here: 'query' runs one SELECT (or WITH, VALUES, TABLE, SHOW, EXPLAIN) statement, not {analysis.FirstKeyword.ToUpperInvariant()}");
        }

        if (analysis.DeniedFunction is { } denied)
        {
            throw new ToolException($"the function {denied}() is not allowed in a query on source '{sourceName}': it acts beyond reading data");
        }

        return Bind(analysis, parameters);
    }

    /// <summary>Prepares a configured write statement (INSERT, UPDATE, DELETE) with its arguments.</summary>
    public static PostgresStatement ForWrite(string sql, IReadOnlyList<QueryParameter> parameters) => Bind(Analyze(sql), parameters);

    private static PostgresStatement Bind(Analysis analysis, IReadOnlyList<QueryParameter> parameters)
    {
        var positional = parameters.Count > 0 && parameters[0].Name is null;
        if (parameters.Any(p => p.Name is null != positional))
        {
            throw new ToolException("'params' must be either an object of named values or an array of positional values, not both");
        }

        if (positional)
        {
            return new PostgresStatement(analysis.RawSql, parameters.Select(p => p.Value).ToArray(), analysis.FirstKeyword);
        }

        var values = new object?[analysis.Names.Length];
        for (var i = 0; i < values.Length; i++)
        {
            var name = analysis.Names[i];
            var match = parameters.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.Ordinal))
                ?? throw new ToolException($"parameter '{name}' has no value: add it to 'params' (given: {(parameters.Count == 0 ? "none" : string.Join(", ", parameters.Select(p => p.Name)))})");
            values[i] = match.Value;
        }

        return new PostgresStatement(analysis.NamedSql, values, analysis.FirstKeyword);
    }

    /// <summary>What a statement text is, whatever its arguments: its text with <c>@name</c> as <c>$n</c> (and as written), the names in order, its first keyword and the first denied function it calls.</summary>
    private sealed record Analysis(string NamedSql, string RawSql, string[] Names, string FirstKeyword, string? DeniedFunction);

    private static Analysis Analyze(string sql)
    {
        if (Analyses.TryGetValue(sql, out var cached))
        {
            return cached;
        }

        var analysis = Lex(sql);
        if (Analyses.Count >= MaxAnalyses)
        {
            Analyses.Clear();
        }

        Analyses[sql] = analysis;
        return analysis;
    }

    private static Analysis Lex(string sql)
    {
        var named = new StringBuilder(sql.Length);
        var raw = new StringBuilder(sql.Length);
        var names = new List<string>();
        string? denied = null;
        string? firstKeyword = null;
        var ended = false;
        Token? previousWord = null;
        var depth = 0;
        foreach (var token in Tokenize(sql))
        {
            if (token.Kind is TokenKind.Space or TokenKind.Comment)
            {
                named.Append(token.Text);
                raw.Append(token.Text);
                continue;
            }

            if (ended)
            {
                throw new ToolException("exactly one statement may run per call: remove the text after the ';'");
            }

            if (token.Kind == TokenKind.Symbol && token.Text == ";")
            {
                ended = true;
                continue;
            }

            if (token.Kind == TokenKind.Symbol && token.Text == "(" && previousWord is { } word && denied is null && DeniedFunctions.Contains(word.Value))
            {
                denied = word.Value;
            }

            depth += token.Text switch
            {
                "(" when token.Kind == TokenKind.Symbol => 1,
                ")" when token.Kind == TokenKind.Symbol => -1,
                _ => 0,
            };
            if (depth < 0)
            {
                throw new ToolException("unbalanced parentheses: a ')' has no matching '('");
            }

            previousWord = token.Kind is TokenKind.Word or TokenKind.QuotedName ? token : null;
            firstKeyword ??= token.Kind == TokenKind.Word ? token.Text.ToLowerInvariant() : "";
            raw.Append(token.Text);
            if (token.Kind == TokenKind.Parameter)
            {
                var name = token.Text[1..];
                var index = names.IndexOf(name);
                if (index < 0)
                {
                    names.Add(name);
                    index = names.Count - 1;
                }

                named.Append('$').Append((index + 1).ToString(CultureInfo.InvariantCulture));
                continue;
            }

            named.Append(token.Text);
        }

        if (firstKeyword is null or "")
        {
            throw new ToolException("the statement is empty: write one SQL statement");
        }

        if (depth != 0)
        {
            throw new ToolException("unbalanced parentheses: a '(' is not closed");
        }

        return new Analysis(named.ToString(), raw.ToString(), [.. names], firstKeyword, denied);
    }

    private enum TokenKind
    {
        Space,
        Comment,
        Word,
        QuotedName,
        Literal,
        Parameter,
        Symbol,
    }

    /// <summary>A token: its text as written and, for a quoted identifier, the name it denotes.</summary>
    private readonly record struct Token(TokenKind Kind, string Text, string? QuotedValue = null)
    {
        public string Value => QuotedValue ?? Text;
    }

    private static IEnumerable<Token> Tokenize(string sql)
    {
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            var start = i;
            if (char.IsWhiteSpace(c))
            {
                while (i < sql.Length && char.IsWhiteSpace(sql[i]))
                {
                    i++;
                }

                yield return new Token(TokenKind.Space, sql[start..i]);
            }
            else if (c == '-' && Next(sql, i) == '-')
            {
                while (i < sql.Length && sql[i] != '\n')
                {
                    i++;
                }

                yield return new Token(TokenKind.Comment, sql[start..i]);
            }
            else if (c == '/' && Next(sql, i) == '*')
            {
                // Block comments nest in PostgreSQL.
                var depth = 0;
                do
                {
                    if (sql[i] == '/' && Next(sql, i) == '*')
                    {
                        depth++;
                        i += 2;
                    }
                    else if (sql[i] == '*' && Next(sql, i) == '/')
                    {
                        depth--;
                        i += 2;
                    }
                    else
                    {
                        i++;
                    }
                }
                while (depth > 0 && i < sql.Length);
                if (depth > 0)
                {
                    throw new ToolException("unterminated /* comment");
                }

                yield return new Token(TokenKind.Comment, sql[start..i]);
            }
            else if (c == '\'' || ((c is 'e' or 'E') && Next(sql, i) == '\''))
            {
                var escapes = c != '\'';
                i += escapes ? 2 : 1;
                while (true)
                {
                    if (i >= sql.Length)
                    {
                        throw new ToolException("unterminated string literal: close it with '");
                    }

                    if (escapes && sql[i] == '\\')
                    {
                        i += 2;
                    }
                    else if (sql[i] == '\'' && Next(sql, i) == '\'')
                    {
                        i += 2;
                    }
                    else if (sql[i] == '\'')
                    {
                        i++;
                        break;
                    }
                    else
                    {
                        i++;
                    }
                }

                yield return new Token(TokenKind.Literal, sql[start..i]);
            }
            else if (c == '"')
            {
                i++;
                var name = new StringBuilder();
                while (true)
                {
                    if (i >= sql.Length)
                    {
                        throw new ToolException("unterminated quoted identifier: close it with \"");
                    }

                    if (sql[i] == '"' && Next(sql, i) == '"')
                    {
                        name.Append('"');
                        i += 2;
                    }
                    else if (sql[i] == '"')
                    {
                        i++;
                        break;
                    }
                    else
                    {
                        name.Append(sql[i++]);
                    }
                }

                // The raw text is sent; the unquoted name is what function and table checks compare.
                yield return new Token(TokenKind.QuotedName, sql[start..i], name.ToString());
            }
            else if (c == '$' && DollarTag(sql, i) is { } tag)
            {
                var end = sql.IndexOf(tag, i + tag.Length, StringComparison.Ordinal);
                if (end < 0)
                {
                    throw new ToolException($"unterminated dollar-quoted string: close it with {tag}");
                }

                i = end + tag.Length;
                yield return new Token(TokenKind.Literal, sql[start..i]);
            }
            else if (c == '@' && i + 1 < sql.Length && IsWordStart(sql[i + 1]) && (i == 0 || !IsWordPart(sql[i - 1])))
            {
                i++;
                while (i < sql.Length && IsWordPart(sql[i]))
                {
                    i++;
                }

                yield return new Token(TokenKind.Parameter, sql[start..i]);
            }
            else if (IsWordStart(c))
            {
                while (i < sql.Length && (IsWordPart(sql[i]) || sql[i] == '$'))
                {
                    i++;
                }

                yield return new Token(TokenKind.Word, sql[start..i]);
            }
            else
            {
                i++;
                yield return new Token(TokenKind.Symbol, sql[start..i]);
            }
        }
    }

    private static char Next(string sql, int i) => i + 1 < sql.Length ? sql[i + 1] : '\0';

    private static bool IsWordStart(char c) => char.IsLetter(c) || c == '_';

    private static bool IsWordPart(char c) => char.IsLetterOrDigit(c) || c == '_';

    /// <summary>The dollar-quote tag starting at <paramref name="i"/> (<c>$$</c> or <c>$tag$</c>), or null.</summary>
    private static string? DollarTag(string sql, int i)
    {
        var j = i + 1;
        while (j < sql.Length && IsWordPart(sql[j]) && !(j == i + 1 && char.IsDigit(sql[j])))
        {
            j++;
        }

        return j < sql.Length && sql[j] == '$' ? sql[i..(j + 1)] : null;
    }
}
