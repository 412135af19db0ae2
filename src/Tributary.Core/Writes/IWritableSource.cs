using System.Text.Json;
using Tributary.Core.Queries;
using Tributary.Core.Sources;

namespace Tributary.Core.Writes;

/// <summary>
/// A source that accepts writes to the tables its configuration lists. Each call is one transaction: it commits whole or
/// changes nothing, and a dry run rolls back after showing what would change.
/// </summary>
public interface IWritableSource
{
    /// <summary>Runs one configured INSERT, UPDATE or DELETE statement with its arguments bound as parameters.</summary>
    Task<WriteOutcome> ExecuteWriteAsync(WriteStatement statement, CancellationToken cancellationToken);

    /// <summary>
    /// Updates the row of <see cref="RowUpdate.Table"/> whose primary key is <see cref="RowUpdate.Key"/>; a stale
    /// <see cref="RowUpdate.ExpectedVersion"/> changes nothing and throws <see cref="WriteConflictException"/>.
    /// </summary>
    Task<RowChange> UpdateRowAsync(RowUpdate update, CancellationToken cancellationToken);
}

/// <summary>One configured write statement and its arguments.</summary>
/// <param name="Sql">The statement, with <c>@name</c> parameters.</param>
/// <param name="Parameters">The arguments, by name.</param>
/// <param name="DryRun">True to roll back after running it.</param>
public sealed record WriteStatement(string Sql, IReadOnlyList<QueryParameter> Parameters, bool DryRun);

/// <summary>What a write statement did: rows affected and the rows it returned (RETURNING), as JSON objects.</summary>
public sealed record WriteOutcome(long RowsAffected, IReadOnlyList<JsonElement> Rows);

/// <summary>An update of one row by its primary key.</summary>
/// <param name="Table">The table, from the live schema (its names are never taken from the caller's text).</param>
/// <param name="Key">Primary key column values.</param>
/// <param name="Set">New column values.</param>
/// <param name="VersionColumn">The version column, incremented by the update; null for none (PostgreSQL then compares <c>xmin</c>).</param>
/// <param name="ExpectedVersion">The version the caller last saw, or null to skip the check.</param>
/// <param name="DryRun">True to roll back after the update, returning what it would have done.</param>
public sealed record RowUpdate(
    TableSchema Table,
    IReadOnlyList<KeyValuePair<string, object?>> Key,
    IReadOnlyList<KeyValuePair<string, object?>> Set,
    string? VersionColumn,
    JsonElement? ExpectedVersion,
    bool DryRun);

/// <summary>A row before and after an update, and its version after it.</summary>
public sealed record RowChange(JsonElement Before, JsonElement After, JsonElement Version);

/// <summary>A write refused because the row changed since the caller read it; carries the current row and version.</summary>
public sealed class WriteConflictException : ToolException
{
    /// <summary>Creates the conflict for a row now at <paramref name="currentVersion"/>.</summary>
    public WriteConflictException(string table, JsonElement expected, JsonElement currentVersion, JsonElement currentRow)
        : base($"conflict: the row of '{table}' is at version {currentVersion.GetRawText()}, not the expected {expected.GetRawText()}; nothing was changed. Read current_row, then retry with expected_version {currentVersion.GetRawText()} if the change still applies")
    {
        CurrentVersion = currentVersion;
        CurrentRow = currentRow;
    }

    /// <summary>The row's version now.</summary>
    public JsonElement CurrentVersion { get; }

    /// <summary>The row as it is now.</summary>
    public JsonElement CurrentRow { get; }

    /// <summary>True when <paramref name="current"/> is the version <paramref name="expected"/> names (numbers and their text compare equal).</summary>
    public static bool Matches(JsonElement expected, JsonElement current) => Text(expected) == Text(current);

    private static string Text(JsonElement value) => value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
}
