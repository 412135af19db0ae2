using System.Data.Common;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Queries;
using Tributary.Core.Sources;

namespace Tributary.Sources.Sql.Sqlite;

/// <summary>A SQLite database file served read-only: the file is opened read-only and an authorizer allows only reads.</summary>
public sealed class SqliteSource : IDataSource
{
    private const int SqliteInterrupt = 9;
    private const int SqliteReadOnly = 8;
    private const int SqliteAuth = 23;
    private readonly SourceConfig _config;
    private readonly string _connectionString;

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
    }

    /// <inheritdoc />
    public string Name => _config.Name;

    /// <inheritdoc />
    public string Kind => SqliteProvider.KindName;

    /// <inheritdoc />
    public string Description => _config.Description;

    /// <inheritdoc />
    public bool IsReadOnly => true;

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
    public async Task QueryAsync(QueryRequest request, QueryResultWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(output);
        await using var connection = await OpenAsync(cancellationToken);
        var sql = SqlitePositionalParameters.Number(request.Sql);
        var parameterNames = CheckStatement(connection.Handle!, sql);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        Bind(command, parameterNames, request.Parameters);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_config.StatementTimeout);
        var handle = connection.Handle!;
        // Interrupting the handle stops the statement inside the engine; disposing the registration waits for a
        // running callback, so the interrupt never reaches the next user of this pooled connection.
        var interrupt = timeout.Token.Register(() => raw.sqlite3_interrupt(handle));
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await output.WriteAsync(reader, request.Offset, request.MaxRows, cancellationToken);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SqliteInterrupt || timeout.IsCancellationRequested)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new ToolException($"the statement was cancelled after {_config.StatementTimeout.TotalSeconds:0.###} s (statement_timeout of source '{Name}'): narrow it with WHERE or LIMIT, or raise statement_timeout");
        }
        catch (SqliteException e)
        {
            throw Translate(e.SqliteErrorCode, e.Message);
        }
        finally
        {
            await interrupt.DisposeAsync();
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
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

    /// <summary>Prepares the text once to prove it is exactly one read-only statement; returns its parameter names.</summary>
    private List<string?> CheckStatement(sqlite3 handle, string sql)
    {
        var rc = raw.sqlite3_prepare_v2(handle, sql, out var statement, out var tail);
        using (statement)
        {
            if (rc != raw.SQLITE_OK)
            {
                throw Translate(rc, raw.sqlite3_errmsg(handle).utf8_to_string());
            }

            if (statement.IsInvalid)
            {
                throw new ToolException("'sql' holds no statement: send one SELECT statement");
            }

            if (!string.IsNullOrWhiteSpace(tail))
            {
                var tailRc = raw.sqlite3_prepare_v2(handle, tail, out var next, out _);
                using (next)
                {
                    if (tailRc != raw.SQLITE_OK || !next.IsInvalid)
                    {
                        throw new ToolException("'sql' must hold exactly one statement: send the statements one call at a time");
                    }
                }
            }

            if (raw.sqlite3_stmt_readonly(statement) == 0)
            {
                throw ReadOnlyError("the statement would write");
            }

            var count = raw.sqlite3_bind_parameter_count(statement);
            var names = new List<string?>(count);
            for (var i = 1; i <= count; i++)
            {
                names.Add(raw.sqlite3_bind_parameter_name(statement, i).utf8_to_string());
            }

            return names;
        }
    }

    private static void Bind(SqliteCommand command, List<string?> names, IReadOnlyList<QueryParameter> parameters)
    {
        var positional = parameters.Where(p => p.Name is null).ToList();
        var named = parameters.Where(p => p.Name is not null).ToDictionary(p => p.Name!, p => p.Value, StringComparer.Ordinal);
        if (positional.Count > 0 && named.Count > 0)
        {
            throw new ToolException("'params' must be either an object of named values or an array of positional values, not both");
        }

        for (var i = 0; i < names.Count; i++)
        {
            var name = names[i];
            object? value;
            if (positional.Count > 0)
            {
                if (i >= positional.Count)
                {
                    throw new ToolException($"the statement has {names.Count} parameters but 'params' has {positional.Count} values");
                }

                value = positional[i].Value;
            }
            else if (name is null || name.StartsWith('?'))
            {
                throw new ToolException("the statement uses positional parameters (?): pass 'params' as an array");
            }
            else if (!named.TryGetValue(name[1..], out value))
            {
                throw new ToolException($"parameter '{name[1..]}' has no value: add it to 'params' (given: {(named.Count == 0 ? "none" : string.Join(", ", named.Keys))})");
            }

            // Bind under SQLite's own name for the parameter, so '?1', ':x', '@x' and '$x' all work.
            command.Parameters.Add(new SqliteParameter(name ?? $"?{i + 1}", value ?? DBNull.Value));
        }

        if (positional.Count > names.Count)
        {
            throw new ToolException($"the statement has {names.Count} parameters but 'params' has {positional.Count} values");
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

    private ToolException ReadOnlyError(string detail) =>
        new($"source '{Name}' is read-only: only a single SELECT (or WITH ... SELECT) statement may run ({detail})");
}
