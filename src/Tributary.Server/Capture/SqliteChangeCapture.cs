using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tributary.Core.Configuration;
using Tributary.Topics;

namespace Tributary.Server.Capture;

/// <summary>
/// Change capture for a SQLite source: triggers on the captured tables write each change into
/// <c>_tributary_changes</c> (so writes by any program are seen), and this service tails that table into the topics.
/// Each event carries its <c>change_id</c>; on start the service resumes after the newest change each topic already
/// holds, so a restart neither loses nor repeats a change.
/// </summary>
internal sealed partial class SqliteChangeCapture(SourceConfig source, string path, IEventStore store, ILogger<SqliteChangeCapture> logger) : BackgroundService
{
    /// <summary>The table the triggers write.</summary>
    public const string ChangeTable = "_tributary_changes";

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    private string EventSource => $"capture:{source.Name}";

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            Install();
            var topics = source.Captures.ToDictionary(c => c.Table, c => c.Topic, StringComparer.OrdinalIgnoreCase);
            var delivered = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var topic in topics.Values.Distinct(StringComparer.Ordinal))
            {
                var latest = await store.ReadLatestAsync(topic, 1, new EventFilter { Source = EventSource }, stoppingToken);
                delivered[topic] = latest.Count == 1 && latest[0].Data.TryGetProperty("change_id", out var id) ? id.GetInt64() : 0;
            }

            var after = delivered.Values.DefaultIfEmpty(0).Min();
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
            connection.Open();
            while (!stoppingToken.IsCancellationRequested)
            {
                var changes = 0;
                using (var command = connection.CreateCommand())
                {
                    command.CommandText = $"SELECT id, table_name, op, row, at FROM {ChangeTable} WHERE id > $after ORDER BY id LIMIT 500";
                    command.Parameters.AddWithValue("$after", after);
                    using var reader = command.ExecuteReader();
                    while (reader.Read())
                    {
                        changes++;
                        after = reader.GetInt64(0);
                        var table = reader.GetString(1);
                        if (!topics.TryGetValue(table, out var topic) || after <= delivered.GetValueOrDefault(topic))
                        {
                            continue;
                        }

                        var op = reader.GetString(2);
                        var data = JsonElement.Parse($$"""{"table":{{JsonString(table)}},"op":"{{op}}","change_id":{{after}},"at":{{JsonString(reader.GetString(4))}},"row":{{reader.GetString(3)}}}""");
                        await store.AppendAsync(new NewEvent(topic, $"{table}.{op}", EventSource, Severity.Info, data), stoppingToken);
                        delivered[topic] = after;
                    }
                }

                if (changes == 0)
                {
                    await Task.Delay(Interval, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is SqliteException or InvalidOperationException)
        {
            LogFailed(logger, source.Name, e);
        }
    }

    /// <summary>Creates the change table and (re)creates the triggers the configuration asks for, in one transaction.</summary>
    private void Install()
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 5 }.ToString());
        connection.Open();
        using var transaction = connection.BeginTransaction();
        Execute(connection, transaction, $"""
            CREATE TABLE IF NOT EXISTS {ChangeTable} (
                id         INTEGER PRIMARY KEY AUTOINCREMENT,
                table_name TEXT NOT NULL,
                op         TEXT NOT NULL,
                row        TEXT NOT NULL,
                at         TEXT NOT NULL
            )
            """);
        foreach (var capture in source.Captures)
        {
            var columns = capture.Columns ?? Columns(connection, transaction, capture.Table);
            foreach (var op in CaptureConfig.AllOperations)
            {
                var trigger = Quote($"_tributary_{capture.Table}_{op}");
                Execute(connection, transaction, $"DROP TRIGGER IF EXISTS {trigger}");
                if (!capture.Operations.Contains(op))
                {
                    continue;
                }

                var row = op == "delete" ? "OLD" : "NEW";
                var json = string.Join(", ", columns.Select(c => $"'{c}', {row}.{Quote(c)}"));
                Execute(connection, transaction, $"""
                    CREATE TRIGGER {trigger} AFTER {op.ToUpperInvariant()} ON {Quote(capture.Table)}
                    BEGIN
                        INSERT INTO {ChangeTable} (table_name, op, row, at)
                        VALUES ('{capture.Table}', '{op}', json_object({json}), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
                    END
                    """);
            }
        }

        transaction.Commit();
    }

    private static string[] Columns(SqliteConnection connection, SqliteTransaction transaction, string table)
    {
        using var command = new SqliteCommand("SELECT name FROM pragma_table_info($table)", connection, transaction);
        command.Parameters.AddWithValue("$table", table);
        using var reader = command.ExecuteReader();
        var columns = new List<string>();
        while (reader.Read())
        {
            columns.Add(reader.GetString(0));
        }

        return columns.Count > 0 ? [.. columns] : throw new InvalidOperationException($"table '{table}' does not exist, so it cannot be captured");
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using var command = new SqliteCommand(sql, connection, transaction);
        command.ExecuteNonQuery();
    }

    /// <summary>Quotes an identifier (configured names are checked to be letters, digits and '_').</summary>
    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static string JsonString(string text) => JsonSerializer.Serialize(text, Core.CoreJsonContext.Default.String);

    [LoggerMessage(Level = LogLevel.Error, Message = "Change capture of source {Source} stopped")]
    private static partial void LogFailed(ILogger logger, string source, Exception error);
}
