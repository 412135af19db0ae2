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
    private const int BusyTimeoutMs = 5_000;
    private readonly Dictionary<string, sqlite3_stmt> _statements = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    private SqliteSession(sqlite3 handle) => Handle = handle;

    /// <summary>The connection handle.</summary>
    public sqlite3 Handle { get; }

    /// <summary>Opens <paramref name="path"/> read-only and installs the guard.</summary>
    public static SqliteSession Open(string path, string sourceName)
    {
        var rc = raw.sqlite3_open_v2(path, out var handle, raw.SQLITE_OPEN_READONLY | raw.SQLITE_OPEN_NOMUTEX, null);
        if (rc != raw.SQLITE_OK)
        {
            var message = handle is null ? raw.sqlite3_errstr(rc).utf8_to_string() : raw.sqlite3_errmsg(handle).utf8_to_string();
            handle?.Dispose();
            throw new ToolException($"source '{sourceName}' cannot be opened: {message}");
        }

        raw.sqlite3_busy_timeout(handle, BusyTimeoutMs);
        SqliteGuard.Install(handle);
        return new SqliteSession(handle);
    }

    /// <summary>
    /// The prepared statement for <paramref name="sql"/>, from the cache or prepared now. Preparing runs the authorizer, so a
    /// statement that would write fails here; the text must hold exactly one statement. The returned statement is reset.
    /// </summary>
    public sqlite3_stmt Prepare(string sql, Func<int, string, Exception> error)
    {
        if (_statements.TryGetValue(sql, out var cached))
        {
            return cached;
        }

        var rc = raw.sqlite3_prepare_v2(Handle, sql, out var statement, out var tail);
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
            evicted?.Dispose();
        }

        _statements[sql] = statement;
        _order.Enqueue(sql);
        return statement;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var statement in _statements.Values)
        {
            statement.Dispose();
        }

        _statements.Clear();
        Handle.Dispose();
    }
}

/// <summary>Idle <see cref="SqliteSession"/>s of one database file, handed out one query at a time.</summary>
internal sealed class SqliteSessionPool(string path, string sourceName) : IDisposable
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

        return SqliteSession.Open(path, sourceName);
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
