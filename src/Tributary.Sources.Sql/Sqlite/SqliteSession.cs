using SQLitePCL;
using Tributary.Core;

namespace Tributary.Sources.Sql.Sqlite;

/// <summary>
/// One read-only SQLite connection with the read guard installed and a small cache of prepared statements, so a repeated
/// query is bound and stepped without being parsed again. Used by one query at a time (see <see cref="SqliteSessionPool"/>).
/// </summary>
internal sealed class SqliteSession : IDisposable
{
    private const int CacheSize = 32;
    private readonly Dictionary<string, SqliteStatement> _statements = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    /// <summary>The tables read by the statement being prepared, as the authorizer reports them.</summary>
    private readonly HashSet<string> _reads = new(StringComparer.OrdinalIgnoreCase);

    private SqliteSession(sqlite3 handle) => Handle = handle;

    /// <summary>The connection handle.</summary>
    public sqlite3 Handle { get; }

    /// <summary>Opens <paramref name="path"/> read-only and installs the guard; a lock held by another program is waited for up to <paramref name="busyTimeout"/>.</summary>
    public static SqliteSession Open(string path, string sourceName, TimeSpan busyTimeout)
    {
        var rc = raw.sqlite3_open_v2(path, out var handle, raw.SQLITE_OPEN_READONLY | raw.SQLITE_OPEN_NOMUTEX, null);
        if (rc != raw.SQLITE_OK)
        {
            var message = handle is null ? raw.sqlite3_errstr(rc).utf8_to_string() : raw.sqlite3_errmsg(handle).utf8_to_string();
            handle?.Dispose();
            throw new ToolException($"source '{sourceName}' cannot be opened: {message}");
        }

        raw.sqlite3_busy_timeout(handle, (int)busyTimeout.TotalMilliseconds);
        var session = new SqliteSession(handle);
        SqliteGuard.Install(handle, table => session._reads.Add(table));
        return session;
    }

    /// <summary>
    /// The prepared statement for <paramref name="sql"/>, from the cache or prepared now. Preparing runs the authorizer, so a
    /// statement that would write fails here; the text must hold exactly one statement. The returned statement is reset.
    /// </summary>
    public SqliteStatement Prepare(string sql, Func<int, string, Exception> error)
    {
        if (_statements.TryGetValue(sql, out var cached))
        {
            return cached;
        }

        _reads.Clear();
        var rc = raw.sqlite3_prepare_v2(Handle, sql, out var statement, out var tail);
        var reads = _reads.Select(t => t.ToLowerInvariant()).ToArray();
        if (rc != raw.SQLITE_OK)
        {
            statement.Dispose();
            throw error(rc, raw.sqlite3_errmsg(Handle).utf8_to_string());
        }

        if (statement.IsInvalid)
        {
            statement.Dispose();
            throw new ToolException("'sql' holds no statement: send one SELECT statement");
        }

        if (!string.IsNullOrWhiteSpace(tail))
        {
            var tailRc = raw.sqlite3_prepare_v2(Handle, tail, out var next, out _);
            var another = tailRc != raw.SQLITE_OK || !next.IsInvalid;
            next.Dispose();
            if (another)
            {
                statement.Dispose();
                throw new ToolException("'sql' must hold exactly one statement: send the statements one call at a time");
            }
        }

        if (raw.sqlite3_stmt_readonly(statement) == 0)
        {
            statement.Dispose();
            throw error(raw.SQLITE_READONLY, "the statement would write");
        }

        if (_order.Count == CacheSize)
        {
            _statements.Remove(_order.Dequeue(), out var evicted);
            evicted?.Handle.Dispose();
        }

        var prepared = new SqliteStatement(statement) { Tables = reads };
        _statements[sql] = prepared;
        _order.Enqueue(sql);
        return prepared;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var statement in _statements.Values)
        {
            statement.Handle.Dispose();
        }

        _statements.Clear();
        Handle.Dispose();
    }
}

/// <summary>
/// A prepared statement with its column names and declared types, read once and read again when SQLite re-prepares the
/// statement after a schema change (the database is live: another program may alter a table between two queries).
/// </summary>
internal sealed class SqliteStatement(sqlite3_stmt handle)
{
    private const int StatusReprepare = 5;
    private int _reprepares = -1;

    /// <summary>The statement handle.</summary>
    public sqlite3_stmt Handle { get; } = handle;

    /// <summary>The tables of the main database the statement reads (lowercase), as the authorizer reported them when it was prepared.</summary>
    public IReadOnlyCollection<string> Tables { get; init; } = [];

    /// <summary>Column names.</summary>
    public string[] Names { get; private set; } = [];

    /// <summary>Declared column types; null for computed columns.</summary>
    public string?[] DeclaredTypes { get; private set; } = [];

    /// <summary>Refreshes the column metadata if the statement was re-prepared since it was read; call after a step.</summary>
    public void Refresh()
    {
        var reprepares = raw.sqlite3_stmt_status(Handle, StatusReprepare, 0);
        if (reprepares == _reprepares)
        {
            return;
        }

        var count = raw.sqlite3_column_count(Handle);
        var names = new string[count];
        var types = new string?[count];
        for (var i = 0; i < count; i++)
        {
            names[i] = raw.sqlite3_column_name(Handle, i).utf8_to_string();
            types[i] = raw.sqlite3_column_decltype(Handle, i).utf8_to_string() is { Length: > 0 } declared ? declared : null;
        }

        (Names, DeclaredTypes, _reprepares) = (names, types, reprepares);
    }
}

/// <summary>Idle <see cref="SqliteSession"/>s of one database file, handed out one query at a time.</summary>
internal sealed class SqliteSessionPool(string path, string sourceName, TimeSpan busyTimeout) : IDisposable
{
    private const int MaxIdle = 16;
    private readonly Stack<SqliteSession> _idle = new();
    private bool _disposed;

    /// <summary>An idle session, or a new one.</summary>
    public SqliteSession Rent()
    {
        lock (_idle)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_idle.TryPop(out var session))
            {
                return session;
            }
        }

        return SqliteSession.Open(path, sourceName, busyTimeout);
    }

    /// <summary>Gives a session back; beyond the idle limit, or after disposal, it is closed.</summary>
    public void Return(SqliteSession session)
    {
        lock (_idle)
        {
            if (!_disposed && _idle.Count < MaxIdle)
            {
                _idle.Push(session);
                return;
            }
        }

        session.Dispose();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_idle)
        {
            _disposed = true;
            while (_idle.TryPop(out var session))
            {
                session.Dispose();
            }
        }
    }
}
