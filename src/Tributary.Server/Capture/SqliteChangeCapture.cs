using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Tributary.Core.Configuration;
using Tributary.Topics;

namespace Tributary.Server.Capture;

/// <summary>
/// Change capture for a SQLite source: triggers on the captured tables write each change into
/// <c>_tributary_changes</c>, which this service polls. SQLite has one writer at a time, so ids are committed in order
/// and the id alone is the position. The connection is Tributary's own (read-write, without the write guard of
/// <c>update_rows</c>): it installs the triggers and deletes the changes the topics hold.
/// </summary>
internal sealed class SqliteChangeCapture(SourceConfig source, string path, IEventStore store, ILogger<SqliteChangeCapture> logger)
    : ChangeCapture(source, store, logger)
{
    /// <summary>The table the triggers write.</summary>
    public const string ChangeTable = "_tributary_changes";

    /// <summary>The prefix of the triggers' names: <c>_tributary_&lt;table&gt;_&lt;op&gt;</c>.</summary>
    private const string TriggerPrefix = "_tributary_";

    private const int PruneBatch = 5_000;

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    private bool _installed;

    /// <inheritdoc />
    protected override bool OrdersByTransaction => false;

    /// <inheritdoc />
    protected override Task<IChangeFeed> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 5 }.ToString());
        try
        {
            connection.Open();
            if (!_installed)
            {
                Install(connection);
                _installed = true;
            }

            return Task.FromResult<IChangeFeed>(new Feed(connection));
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Creates the change table and (re)creates the triggers the configuration asks for, dropping the others, in one transaction.</summary>
    private void Install(SqliteConnection connection)
    {
        using var transaction = connection.BeginTransaction();
        var problems = new List<string>();
        var wanted = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var capture in Source.Captures)
        {
            var existing = Columns(connection, transaction, capture.Table);
            if (existing.Count == 0)
            {
                problems.Add($"table '{capture.Table}' does not exist, so it cannot be captured");
                continue;
            }

            var missing = capture.Columns?.Where(c => !existing.Contains(c, StringComparer.OrdinalIgnoreCase)).ToList() ?? [];
            if (missing.Count > 0)
            {
                problems.Add($"table '{capture.Table}' has no column {string.Join(", ", missing.Select(c => $"'{c}'"))} (its columns: {string.Join(", ", existing)})");
                continue;
            }

            var columns = capture.Columns ?? existing;
            foreach (var op in capture.Operations)
            {
                var row = op == "delete" ? "OLD" : "NEW";
                var json = string.Join(", ", columns.Select(c => $"'{c}', {row}.{Quote(c)}"));
                wanted[$"{TriggerPrefix}{capture.Table}_{op}"] = $"""
                    AFTER {op.ToUpperInvariant()} ON {Quote(capture.Table)}
                    BEGIN
                        INSERT INTO {ChangeTable} (table_name, op, row, at)
                        VALUES ('{capture.Table}', '{op}', json_object({json}), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
                    END
                    """;
            }
        }

        if (problems.Count > 0)
        {
            throw new CaptureSetupException(string.Join("; ", problems));
        }

        // AUTOINCREMENT: ids are never reused, even after pruning has emptied the table, so a position stays valid.
        Execute(connection, transaction, $"""
            CREATE TABLE IF NOT EXISTS {ChangeTable} (
                id         INTEGER PRIMARY KEY AUTOINCREMENT,
                table_name TEXT NOT NULL,
                op         TEXT NOT NULL,
                row        TEXT NOT NULL,
                at         TEXT NOT NULL
            )
            """);
        foreach (var trigger in Triggers(connection, transaction))
        {
            Execute(connection, transaction, $"DROP TRIGGER {Quote(trigger)}");
        }

        foreach (var (trigger, definition) in wanted)
        {
            Execute(connection, transaction, $"CREATE TRIGGER {Quote(trigger)} {definition}");
        }

        transaction.Commit();
    }

    /// <summary>The capture triggers there are now (of any table, configured or not any more).</summary>
    private static List<string> Triggers(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var command = new SqliteCommand(@"SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '\_tributary\_%' ESCAPE '\'", connection, transaction);
        return Strings(command);
    }

    private static List<string> Columns(SqliteConnection connection, SqliteTransaction transaction, string table)
    {
        using var command = new SqliteCommand("SELECT name FROM pragma_table_info($table)", connection, transaction);
        command.Parameters.AddWithValue("$table", table);
        return Strings(command);
    }

    private static List<string> Strings(SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        var values = new List<string>();
        while (reader.Read())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using var command = new SqliteCommand(sql, connection, transaction);
        command.ExecuteNonQuery();
    }

    /// <summary>Quotes an identifier (configured names are checked to be letters, digits and '_').</summary>
    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>The change table through one connection, polled every 200 ms.</summary>
    private sealed class Feed(SqliteConnection connection) : IChangeFeed
    {
        public Task<IReadOnlyList<CapturedChange>> ReadAsync(ChangePosition after, int limit, CancellationToken cancellationToken)
        {
            using var command = new SqliteCommand($"SELECT id, table_name, op, row, at FROM {ChangeTable} WHERE id > $after ORDER BY id LIMIT $limit", connection);
            command.Parameters.AddWithValue("$after", after.Id);
            command.Parameters.AddWithValue("$limit", limit);
            using var reader = command.ExecuteReader();
            var changes = new List<CapturedChange>();
            while (reader.Read())
            {
                changes.Add(new CapturedChange(new ChangePosition(0, reader.GetInt64(0)), reader.GetString(1), reader.GetString(2), reader.GetString(4), reader.GetString(3)));
            }

            return Task.FromResult<IReadOnlyList<CapturedChange>>(changes);
        }

        public Task PruneAsync(ChangePosition through, CancellationToken cancellationToken)
        {
            // Batches keep each write lock short, so the application's writers wait little.
            using var command = new SqliteCommand($"DELETE FROM {ChangeTable} WHERE id IN (SELECT id FROM {ChangeTable} WHERE id <= $through ORDER BY id LIMIT {PruneBatch})", connection);
            command.Parameters.AddWithValue("$through", through.Id);
            while (command.ExecuteNonQuery() == PruneBatch && !cancellationToken.IsCancellationRequested)
            {
            }

            return Task.CompletedTask;
        }

        public Task WaitAsync(CancellationToken cancellationToken) => Task.Delay(Interval, cancellationToken);

        public ValueTask DisposeAsync() => connection.DisposeAsync();
    }
}
