using Microsoft.Data.Sqlite;
using SQLitePCL;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Queries;
using Tributary.Core.Sources;
using Tributary.Core.Writes;

namespace Tributary.Sources.Sql.Sqlite;

/// <summary>
/// A SQLite database file served read-only: the file is opened read-only and an authorizer allows only reads. Queries run
/// on raw connections with cached prepared statements (the driver's own floor); schema reads use Microsoft.Data.Sqlite.
/// </summary>
public sealed class SqliteSource : IDataSource, IWritableSource, ITableReads
{
    private const int SqliteReadOnly = 8;
    private const int SqliteAuth = 23;
    private readonly SourceConfig _config;
    private readonly string _connectionString;
    private readonly SqliteSessionPool _sessions;
    private readonly SqliteWriter? _writer;
    private readonly TimeSpan _busyTimeout;

    static SqliteSource() => Batteries_V2.Init();

    /// <summary>Creates the source over the database file at <paramref name="path"/>.</summary>
    public SqliteSource(SourceConfig config, string path)
    {
        _config = config;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = true,
        }.ToString();
        _busyTimeout = SqliteProvider.BusyTimeout(config);
        _sessions = new SqliteSessionPool(path, config.Name, _busyTimeout);
        _writer = config.Writable ? new SqliteWriter(config, path, _busyTimeout) : null;
    }

    /// <inheritdoc />
    public string Name => _config.Name;

    /// <inheritdoc />
    public string Kind => SqliteProvider.KindName;

    /// <inheritdoc />
    public string Description => _config.Description;

    /// <inheritdoc />
    public bool IsReadOnly => _writer is null;

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> ListTablesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await SqliteSchemaReader.ListAsync(connection, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<DatabaseSchema> DescribeAsync(string? table, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await SqliteSchemaReader.ReadAsync(connection, Name, table, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// A database another program keeps locked past <c>busy_timeout</c> (SQLITE_BUSY, SQLITE_LOCKED, SQLITE_PROTOCOL) is
    /// tried again, up to <see cref="ReadAttempts"/> tries, but only before the first row is written.
    /// </remarks>
    public async Task QueryAsync(QueryRequest request, QueryResultWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(output);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await QueryOnceAsync(request, output, cancellationToken);
                return;
            }
            catch (LockedException) when (attempt < ReadAttempts && !cancellationToken.IsCancellationRequested)
            {
                SqlSourceMetrics.Retried(Name);
                await Task.Delay(TimeSpan.FromMilliseconds(50 * attempt), cancellationToken);
            }
            catch (LockedException e)
            {
                throw new ToolException($"source '{Name}' is locked by another program ({e.Message}): {ReadAttempts} tries each waited {_busyTimeout.TotalSeconds:0.###} s (busy_timeout); try again later, or raise busy_timeout");
            }
        }
    }

    /// <summary>Tries a read may take while the database is locked.</summary>
    private const int ReadAttempts = 3;

    private async Task QueryOnceAsync(QueryRequest request, QueryResultWriter output, CancellationToken cancellationToken)
    {
        var session = _sessions.Rent();
        try
        {
            var statement = session.Prepare(request.Sql, ReadError);
            try
            {
                Bind(statement.Handle, request.Parameters);
                await RunAsync(session.Handle, statement, request, output, cancellationToken);
            }
            finally
            {
                raw.sqlite3_reset(statement.Handle);
                raw.sqlite3_clear_bindings(statement.Handle);
            }
        }
        finally
        {
            _sessions.Return(session);
        }
    }

    private static bool IsLocked(int code) => (code & 0xFF) is raw.SQLITE_BUSY or raw.SQLITE_LOCKED or raw.SQLITE_PROTOCOL;

    private Exception ReadError(int code, string message) => IsLocked(code) ? new LockedException(message) : Translate(code, message);

    /// <summary>The database was locked by another program for longer than <c>busy_timeout</c>; nothing was read.</summary>
    private sealed class LockedException(string message) : Exception(message);

    /// <inheritdoc />
    public Task<IReadOnlyCollection<string>?> TablesReadAsync(QueryRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        // Preparing runs the authorizer, which hears every table read; the statement stays prepared for the query itself.
        var session = _sessions.Rent();
        try
        {
            return Task.FromResult<IReadOnlyCollection<string>?>(session.Prepare(request.Sql, Translate).Tables);
        }
        finally
        {
            _sessions.Return(session);
        }
    }

    /// <inheritdoc />
    public Task<WriteOutcome> ExecuteWriteAsync(WriteStatement statement, CancellationToken cancellationToken) =>
        Writer.ExecuteAsync(statement, WriteError, cancellationToken);

    /// <inheritdoc />
    public Task<RowChange> UpdateRowAsync(RowUpdate update, CancellationToken cancellationToken) =>
        Writer.UpdateRowAsync(update, WriteError, cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _writer?.Dispose();
        _sessions.Dispose();
        using var pooled = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(pooled);
        return ValueTask.CompletedTask;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
        }
        catch (SqliteException e)
        {
            await connection.DisposeAsync();
            throw new ToolException($"source '{Name}' cannot be opened: {e.Message}", e);
        }

        SqliteGuard.Install(connection.Handle!);
        return connection;
    }

    private async ValueTask RunAsync(sqlite3 handle, SqliteStatement statement, QueryRequest request, QueryResultWriter output, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_config.StatementTimeout);
        // Interrupting the handle stops the statement inside the engine. Disposing the registration waits for a running
        // callback, so an interrupt never reaches the next query on this pooled connection.
        using (timeout.Token.Register(() => raw.sqlite3_interrupt(handle)))
        {
            try
            {
                // The first step is taken here, before anything is written, so a locked database can be tried again.
                var firstStep = raw.sqlite3_step(statement.Handle);
                if (IsLocked(firstStep))
                {
                    throw new LockedException(raw.sqlite3_errmsg(handle).utf8_to_string());
                }

                await output.WriteAsync(new SqliteRowReader(statement, rc => Translate(rc, raw.sqlite3_errmsg(handle).utf8_to_string()), firstStep), request.Offset, request.MaxRows, request.MaxBytes, timeout.Token);
                return;
            }
            catch (Exception e) when (timeout.IsCancellationRequested && e is ToolException or OperationCanceledException)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        throw new ToolException($"the statement was cancelled after {_config.StatementTimeout.TotalSeconds:0.###} s (statement_timeout of source '{Name}'): narrow it with WHERE or LIMIT, or raise statement_timeout");
    }

    private static void Bind(sqlite3_stmt statement, IReadOnlyList<QueryParameter> parameters)
    {
        var count = raw.sqlite3_bind_parameter_count(statement);
        var positional = parameters.Count > 0 && parameters[0].Name is null;
        if (parameters.Any(p => p.Name is null != positional))
        {
            throw new ToolException("'params' must be either an object of named values or an array of positional values, not both");
        }

        if (positional && parameters.Count != count)
        {
            throw new ToolException($"the statement has {count} parameters but 'params' has {parameters.Count} values");
        }

        for (var i = 1; i <= count; i++)
        {
            var name = raw.sqlite3_bind_parameter_name(statement, i).utf8_to_string();
            object? value;
            if (positional)
            {
                value = parameters[i - 1].Value;
            }
            else if (name is null || name.StartsWith('?'))
            {
                throw new ToolException("the statement uses positional parameters (?): pass 'params' as an array");
            }
            else
            {
                var match = parameters.FirstOrDefault(p => string.Equals(p.Name, name[1..], StringComparison.Ordinal))
                    ?? throw new ToolException($"parameter '{name[1..]}' has no value: add it to 'params' (given: {(parameters.Count == 0 ? "none" : string.Join(", ", parameters.Select(p => p.Name)))})");
                value = match.Value;
            }

            var rc = value switch
            {
                null => raw.sqlite3_bind_null(statement, i),
                long l => raw.sqlite3_bind_int64(statement, i, l),
                double d => raw.sqlite3_bind_double(statement, i, d),
                bool b => raw.sqlite3_bind_int64(statement, i, b ? 1 : 0),
                string s => raw.sqlite3_bind_text(statement, i, s),
                _ => raw.sqlite3_bind_text(statement, i, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)),
            };
            if (rc != raw.SQLITE_OK)
            {
                throw new ToolException($"parameter {i} could not be bound (SQLite error {rc})");
            }
        }
    }

    private ToolException Translate(int code, string message) => code switch
    {
        SqliteReadOnly or SqliteAuth => ReadOnlyError(message),
        _ when message.StartsWith("not authorized", StringComparison.Ordinal) => ReadOnlyError(message),
        _ when message.StartsWith("no such table", StringComparison.Ordinal) =>
            new ToolException($"{message}: call describe_schema on source '{Name}' for its tables"),
        _ => new ToolException($"SQL error: {message}"),
    };

    private SqliteWriter Writer => _writer ?? throw new ToolException($"source '{Name}' is read-only: set 'writable: true' and list its writable tables to allow writes");

    private ToolException WriteError(string message) => message.Contains("not authorized", StringComparison.Ordinal)
        ? new ToolException($"the write was refused: source '{Name}' allows writes only to {string.Join(", ", _config.WritableTables.Select(t => t.Name))} ({message}); nothing was changed")
        : new ToolException($"SQL error: {message}; nothing was changed");

    private ToolException ReadOnlyError(string detail) =>
        new($"source '{Name}' is read-only: only a single SELECT (or WITH ... SELECT) statement may run ({detail})");
}
