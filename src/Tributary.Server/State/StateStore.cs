using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Tributary.Server.State;

/// <summary>
/// Tributary's own state in one SQLite file of the data directory (<c>state.db</c>, WAL): the idempotency keys of writes
/// with their first results, and the audit log. Shared by every session of this process.
/// </summary>
public sealed class StateStore : IDisposable
{
    /// <summary>The file name inside the data directory.</summary>
    public const string FileName = "state.db";

    /// <summary>The state store's path for <paramref name="config"/>: <c>state.db</c> in the data directory.</summary>
    public static string PathIn(Core.Configuration.TributaryConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return Path.Combine(Path.GetFullPath(config.Server.DataDir, config.BaseDirectory), FileName);
    }

    private const string Schema = """
        PRAGMA journal_mode = WAL;
        PRAGMA synchronous = NORMAL;
        CREATE TABLE IF NOT EXISTS idempotency (
            scope       TEXT NOT NULL,
            key         TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            result      TEXT,
            created_at  INTEGER NOT NULL,
            PRIMARY KEY (scope, key)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS audit (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            at              TEXT NOT NULL,
            principal       TEXT NOT NULL,
            tool            TEXT NOT NULL,
            source          TEXT NOT NULL,
            table_name      TEXT,
            row_key         TEXT,
            rows            INTEGER NOT NULL,
            before_digest   TEXT,
            after_digest    TEXT,
            idempotency_key TEXT
        );
        """;

    private readonly SqliteConnection _connection;
    private readonly TimeSpan _retention;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private long _writesSincePrune;

    /// <summary>Opens (or creates) the store at <paramref name="path"/>; idempotency keys older than <paramref name="retention"/> are forgotten.</summary>
    public StateStore(string path, TimeSpan retention, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _retention = retention;
        _time = time ?? TimeProvider.System;
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
        _connection.Open();
        Execute(Schema);
        Execute("PRAGMA busy_timeout = 5000");
        Prune();
    }

    /// <summary>Claims <paramref name="key"/> for a write, or says why it cannot run (already done, running, or used for other arguments).</summary>
    public IdempotencyClaim Claim(string scope, string key, string fingerprint)
    {
        lock (_lock)
        {
            using var insert = Command("INSERT INTO idempotency (scope, key, fingerprint, created_at) VALUES ($scope, $key, $fingerprint, $now) ON CONFLICT DO NOTHING",
                ("$scope", scope), ("$key", key), ("$fingerprint", fingerprint), ("$now", _time.GetUtcNow().ToUnixTimeSeconds()));
            if (insert.ExecuteNonQuery() == 1)
            {
                return IdempotencyClaim.Claimed;
            }

            using var select = Command("SELECT fingerprint, result FROM idempotency WHERE scope = $scope AND key = $key", ("$scope", scope), ("$key", key));
            using var reader = select.ExecuteReader();
            if (!reader.Read())
            {
                // Pruned between the two statements: try once more.
                return IdempotencyClaim.InProgress;
            }

            return reader.GetString(0) != fingerprint ? IdempotencyClaim.Mismatch
                : reader.IsDBNull(1) ? IdempotencyClaim.InProgress
                : IdempotencyClaim.Replay(reader.GetString(1));
        }
    }

    /// <summary>Records the result of the write that claimed <paramref name="key"/>.</summary>
    public void Complete(string scope, string key, string result)
    {
        lock (_lock)
        {
            using var update = Command("UPDATE idempotency SET result = $result WHERE scope = $scope AND key = $key", ("$scope", scope), ("$key", key), ("$result", result));
            update.ExecuteNonQuery();
        }
    }

    /// <summary>Gives <paramref name="key"/> back after a write that changed nothing, so a retry runs it again.</summary>
    public void Release(string scope, string key)
    {
        lock (_lock)
        {
            using var delete = Command("DELETE FROM idempotency WHERE scope = $scope AND key = $key AND result IS NULL", ("$scope", scope), ("$key", key));
            delete.ExecuteNonQuery();
        }
    }

    /// <summary>Appends an entry to the audit log and returns its id.</summary>
    public long Append(AuditEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        lock (_lock)
        {
            using var insert = Command(
                "INSERT INTO audit (at, principal, tool, source, table_name, row_key, rows, before_digest, after_digest, idempotency_key) " +
                "VALUES ($at, $principal, $tool, $source, $table, $key, $rows, $before, $after, $idempotency) RETURNING id",
                ("$at", entry.At.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)), ("$principal", entry.Principal), ("$tool", entry.Tool),
                ("$source", entry.Source), ("$table", entry.Table), ("$key", entry.Key), ("$rows", entry.Rows),
                ("$before", entry.BeforeDigest), ("$after", entry.AfterDigest), ("$idempotency", entry.IdempotencyKey));
            var id = (long)insert.ExecuteScalar()!;
            if (++_writesSincePrune >= 1000)
            {
                Prune();
            }

            return id;
        }
    }

    /// <summary>The newest audit entries, newest first, optionally only of <paramref name="source"/>.</summary>
    public IReadOnlyList<AuditEntry> ReadAudit(int limit, string? source = null)
    {
        lock (_lock)
        {
            using var select = Command(
                "SELECT id, at, principal, tool, source, table_name, row_key, rows, before_digest, after_digest, idempotency_key FROM audit " +
                "WHERE $source IS NULL OR source = $source ORDER BY id DESC LIMIT $limit",
                ("$source", source), ("$limit", limit));
            using var reader = select.ExecuteReader();
            var entries = new List<AuditEntry>();
            while (reader.Read())
            {
                entries.Add(new AuditEntry(
                    DateTimeOffset.Parse(reader.GetString(1), CultureInfo.InvariantCulture),
                    reader.GetString(2), reader.GetString(3), reader.GetString(4), Text(reader, 5), Text(reader, 6), reader.GetInt64(7), Text(reader, 8), Text(reader, 9), Text(reader, 10))
                {
                    Id = reader.GetInt64(0),
                });
            }

            return entries;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _connection.Dispose();

    private void Prune()
    {
        _writesSincePrune = 0;
        using var delete = Command("DELETE FROM idempotency WHERE created_at < $cutoff", ("$cutoff", (_time.GetUtcNow() - _retention).ToUnixTimeSeconds()));
        delete.ExecuteNonQuery();
    }

    private void Execute(string sql)
    {
        using var command = Command(sql);
        command.ExecuteNonQuery();
    }

    private SqliteCommand Command(string sql, params (string Name, object? Value)[] parameters) => Command(_connection, sql, parameters);

    /// <summary>A command on <paramref name="connection"/> with named parameters (null bound as NULL); shared by the state store's tables.</summary>
    internal static SqliteCommand Command(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    private static string? Text(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}

/// <summary>The answer to claiming an idempotency key.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Result">The first call's result, for <see cref="IdempotencyOutcome.Replay"/>.</param>
public sealed record IdempotencyClaim(IdempotencyOutcome Outcome, string? Result = null)
{
    /// <summary>The key is new: run the write.</summary>
    public static IdempotencyClaim Claimed { get; } = new(IdempotencyOutcome.Claimed);

    /// <summary>A call with this key is still running.</summary>
    public static IdempotencyClaim InProgress { get; } = new(IdempotencyOutcome.InProgress);

    /// <summary>The key was used with other arguments.</summary>
    public static IdempotencyClaim Mismatch { get; } = new(IdempotencyOutcome.Mismatch);

    /// <summary>The write already ran: return its result.</summary>
    public static IdempotencyClaim Replay(string result) => new(IdempotencyOutcome.Replay, result);
}

/// <summary>What claiming an idempotency key found.</summary>
public enum IdempotencyOutcome
{
    /// <summary>The key is new: run the write.</summary>
    Claimed,

    /// <summary>The write already ran.</summary>
    Replay,

    /// <summary>A call with this key is still running.</summary>
    InProgress,

    /// <summary>The key was used with other arguments.</summary>
    Mismatch,
}

/// <summary>One write in the audit log: who, through which tool, what, and digests of the row before and after.</summary>
public sealed record AuditEntry(
    DateTimeOffset At,
    string Principal,
    string Tool,
    string Source,
    string? Table,
    string? Key,
    long Rows,
    string? BeforeDigest,
    string? AfterDigest,
    string? IdempotencyKey)
{
    /// <summary>The entry's id, increasing.</summary>
    public long Id { get; init; }
}

/// <summary>The audit log as JSON: <c>{entries:[{id, at, principal, tool, source, table, key, rows, before_digest, after_digest, idempotency_key}]}</c>.</summary>
public static class AuditJson
{
    /// <summary>Writes <paramref name="entries"/> to <paramref name="json"/>.</summary>
    public static void Write(IReadOnlyList<AuditEntry> entries, System.Text.Json.Utf8JsonWriter json)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(json);
        json.WriteStartObject();
        json.WriteStartArray("entries"u8);
        foreach (var e in entries)
        {
            json.WriteStartObject();
            json.WriteNumber("id"u8, e.Id);
            json.WriteString("at"u8, e.At);
            json.WriteString("principal"u8, e.Principal);
            json.WriteString("tool"u8, e.Tool);
            json.WriteString("source"u8, e.Source);
            json.WriteString("table"u8, e.Table);
            json.WriteString("key"u8, e.Key);
            json.WriteNumber("rows"u8, e.Rows);
            json.WriteString("before_digest"u8, e.BeforeDigest);
            json.WriteString("after_digest"u8, e.AfterDigest);
            json.WriteString("idempotency_key"u8, e.IdempotencyKey);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }
}
