using System.Text.RegularExpressions;

namespace Tributary.Core.Configuration;

/// <summary>
/// Tells what a configured statement does and which table it writes, from its leading keywords. Named tools' statements
/// come from the operator's configuration, not from the model; this lets configuration errors show at start-up
/// (a write to a table that is not writable), while the engine still enforces what each statement may do.
/// </summary>
public static partial class StatementClassifier
{
    /// <summary>The statement's shape and, for writes, the table it changes (unquoted names lowercased); null when it is not one read or one write.</summary>
    public static (StatementShape Shape, string? Table)? Classify(string statement)
    {
        ArgumentNullException.ThrowIfNull(statement);
        var text = LeadingCommentRegex().Replace(statement, "");
        if (ReadRegex().IsMatch(text))
        {
            return (StatementShape.Read, null);
        }

        var match = WriteRegex().Match(text);
        if (!match.Success)
        {
            return null;
        }

        var verb = match.Groups["verb"].Value.ToUpperInvariant();
        var table = Normalize(match.Groups["table"].Value);
        var shape = verb switch
        {
            _ when verb.StartsWith("DELETE", StringComparison.Ordinal) => StatementShape.Delete,
            _ when verb.StartsWith("UPDATE", StringComparison.Ordinal) => StatementShape.Update,
            _ when verb.StartsWith("REPLACE", StringComparison.Ordinal) || verb.Contains("OR REPLACE", StringComparison.Ordinal) => StatementShape.Upsert,
            _ when UpsertRegex().IsMatch(text) => StatementShape.Upsert,
            _ => StatementShape.Insert,
        };
        return (shape, table);
    }

    /// <summary>The <c>@name</c> parameters a statement uses, outside string literals, in order of first use.</summary>
    public static IReadOnlyList<string> Parameters(string statement) =>
        ParameterRegex().Matches(StringLiteralRegex().Replace(statement, "''")).Select(m => m.Groups[1].Value).Distinct(StringComparer.Ordinal).ToArray();

    private static string Normalize(string name) =>
        string.Join('.', name.Split('.').Select(part => part.StartsWith('"') ? part.Trim('"') : part.ToLowerInvariant()));

    [GeneratedRegex(@"^(\s+|--[^\n]*\n?|/\*.*?\*/)*", RegexOptions.Singleline)]
    private static partial Regex LeadingCommentRegex();

    [GeneratedRegex(@"^(SELECT|WITH|VALUES|TABLE)\b", RegexOptions.IgnoreCase)]
    private static partial Regex ReadRegex();

    private const string Name = @"(""[^""]+""|[A-Za-z_][A-Za-z0-9_$]*)";

    [GeneratedRegex(@"^(?<verb>INSERT\s+OR\s+REPLACE\s+INTO|INSERT\s+INTO|REPLACE\s+INTO|UPDATE(\s+ONLY)?|DELETE\s+FROM(\s+ONLY)?)\s+(?<table>" + Name + @"(\." + Name + @")?)", RegexOptions.IgnoreCase)]
    private static partial Regex WriteRegex();

    [GeneratedRegex(@"\bON\s+CONFLICT\b[^;]*\bDO\s+UPDATE\b", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex UpsertRegex();

    [GeneratedRegex(@"(?<![@\w])@([A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex ParameterRegex();

    [GeneratedRegex(@"'([^']|'')*'")]
    private static partial Regex StringLiteralRegex();
}
