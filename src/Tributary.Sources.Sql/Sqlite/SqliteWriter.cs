using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Queries;
using Tributary.Core.Writes;

namespace Tributary.Sources.Sql.Sqlite;

/// <summary>
/// The write side of a writable SQLite source: one read-write connection, used by one write at a time, whose authorizer
/// allows changes to the configured tables only. Each write is one <c>BEGIN IMMEDIATE</c> transaction.
/// </summary>
internal sealed class SqliteWriter : IDisposable
{
    private readonly SourceConfig _config;
    private readonly string _path;
    private readonly TimeSpan _busyTimeout;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private SqliteConnection? _connection;

    public SqliteWriter(SourceConfig config, string path, TimeSpan busyTimeout)
    {
        _config = config;
        _path = path;
        _busyTimeout = busyTimeout;
    }

    public async Task<WriteOutcome> ExecuteAsync(WriteStatement statement, Func<string, Exception> translate, CancellationToken cancellationToken)
    {
        return await InTransactionAsync(statement.DryRun, async (connection, transaction) =>
        {
            await using var command = Command(connection, transaction, statement.Sql);
            foreach (var parameter in statement.Parameters)
            {
                command.Parameters.AddWithValue("@" + parameter.Name, parameter.Value ?? DBNull.Value);
            }

            var rows = new List<JsonElement>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(RowJson(reader));
            }

            await reader.CloseAsync();
            return new WriteOutcome(Math.Max(0, reader.RecordsAffected), rows);
        }, translate, cancellationToken);
    }

    public async Task<RowChange> UpdateRowAsync(RowUpdate update, Func<string, Exception> translate, CancellationToken cancellationToken)
    {
        var table = Quote(update.Table.Name);
        var where = string.Join(" AND ", update.Key.Select((k, i) => $"{Quote(k.Key)} = @k{i}"));
        return await InTransactionAsync(update.DryRun, async (connection, transaction) =>
        {
            JsonElement before;
            await using (var select = Command(connection, transaction, $"SELECT * FROM {table} WHERE {where}"))
            {
                AddKey(select, update.Key);
                await using var reader = await select.ExecuteReaderAsync(cancellationToken);
                if (!await reader.ReadAsync(cancellationToken))
                {
                    throw new ToolException($"no row of '{update.Table.Name}' has the key {{{string.Join(", ", update.Key.Select(k => $"{k.Key}: {Convert.ToString(k.Value, CultureInfo.InvariantCulture)}"))}}}: check the key with query");
                }

                before = RowJson(reader);
            }

            var version = update.VersionColumn is { } column ? before.GetProperty(column) : default;
            if (update.ExpectedVersion is { } expected)
            {
                if (update.VersionColumn is null)
                {
                    throw new ToolException($"table '{update.Table.Name}' has no version column: leave expected_version out, or configure version_column for it");
                }

                if (!WriteConflictException.Matches(expected, version))
                {
                    throw new WriteConflictException(update.Table.Name, expected, version, before);
                }
            }

            var assignments = update.Set.Select((c, i) => $"{Quote(c.Key)} = @s{i}").ToList();
            if (update.VersionColumn is { } versionColumn)
            {
                assignments.Add($"{Quote(versionColumn)} = {Quote(versionColumn)} + 1");
            }

            await using var change = Command(connection, transaction, $"UPDATE {table} SET {string.Join(", ", assignments)} WHERE {where} RETURNING *");
            AddKey(change, update.Key);
            for (var i = 0; i < update.Set.Count; i++)
            {
                change.Parameters.AddWithValue($"@s{i}", update.Set[i].Value ?? DBNull.Value);
            }

            await using var changed = await change.ExecuteReaderAsync(cancellationToken);
            await changed.ReadAsync(cancellationToken);
            var after = RowJson(changed);
            return new RowChange(before, after, update.VersionColumn is { } v ? after.GetProperty(v) : default);
        }, translate, cancellationToken);
    }

    public void Dispose()
    {
        _connection?.Dispose();
        _gate.Dispose();
    }

    private async Task<T> InTransactionAsync<T>(bool dryRun, Func<SqliteConnection, SqliteTransaction, Task<T>> work, Func<string, Exception> translate, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var connection = Connection();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_config.StatementTimeout);
            using var interrupt = timeout.Token.Register(() => raw.sqlite3_interrupt(connection.Handle));
            using var transaction = connection.BeginTransaction(deferred: false);
            try
            {
                var result = await work(connection, transaction);
                if (dryRun)
                {
                    transaction.Rollback();
                }
                else
                {
                    transaction.Commit();
                }

                return result;
            }
            catch (SqliteException e)
            {
                SafeRollback(transaction);
                throw timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested
                    ? new ToolException($"the write was cancelled after {_config.StatementTimeout.TotalSeconds:0.###} s (statement_timeout of source '{_config.Name}'); nothing was changed")
                    : translate(e.Message);
            }
            catch
            {
                SafeRollback(transaction);
                throw;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private static void SafeRollback(SqliteTransaction transaction)
    {
        try
        {
            transaction.Rollback();
        }
        catch (SqliteException)
        {
            // Already rolled back by the engine (an interrupted or failed statement).
        }
        catch (InvalidOperationException)
        {
            // Already completed.
        }
    }

    private SqliteConnection Connection()
    {
        if (_connection is not null)
        {
            return _connection;
        }

        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = _path, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 5 }.ToString());
        connection.Open();
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = $"PRAGMA busy_timeout = {(int)_busyTimeout.TotalMilliseconds}; PRAGMA foreign_keys = ON;";
            pragma.ExecuteNonQuery();
        }

        SqliteGuard.InstallWriter(connection.Handle!, _config.WritableTables.Select(t => t.Name));
        return _connection = connection;
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction transaction, string sql) =>
        new(sql, connection, transaction);

    private static void AddKey(SqliteCommand command, IReadOnlyList<KeyValuePair<string, object?>> key)
    {
        for (var i = 0; i < key.Count; i++)
        {
            command.Parameters.AddWithValue($"@k{i}", key[i].Value ?? DBNull.Value);
        }
    }

    /// <summary>Quotes an identifier taken from the live schema.</summary>
    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static JsonElement RowJson(SqliteDataReader reader)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            for (var i = 0; i < reader.FieldCount; i++)
            {
                json.WritePropertyName(reader.GetName(i));
                switch (reader.IsDBNull(i) ? null : reader.GetValue(i))
                {
                    case null:
                        json.WriteNullValue();
                        break;
                    case long l:
                        json.WriteNumberValue(l);
                        break;
                    case double d when double.IsFinite(d):
                        json.WriteNumberValue(d);
                        break;
                    case byte[] bytes:
                        json.WriteBase64StringValue(bytes);
                        break;
                    case var value:
                        json.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture));
                        break;
                }
            }

            json.WriteEndObject();
        }

        return JsonElement.Parse(buffer.WrittenSpan);
    }
}
