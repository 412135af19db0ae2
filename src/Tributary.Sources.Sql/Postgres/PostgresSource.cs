using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net.Sockets;
using Npgsql;
using NpgsqlTypes;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Queries;
using Tributary.Core.Sources;

namespace Tributary.Sources.Sql.Postgres;

/// <summary>
/// A PostgreSQL database through one pooled <see cref="NpgsqlDataSource"/>. Every query runs in its own
/// <c>READ ONLY</c> transaction with <c>statement_timeout</c> set for that transaction, sent with the statement in one
/// round trip and always rolled back; a timeout or a cancelled request cancels the statement on the server.
/// </summary>
public sealed class PostgresSource : IDataSource
{
    private readonly SourceConfig _config;
    private readonly string[] _schemas;

    /// <summary>Creates the source; no connection is opened until the first call.</summary>
    public PostgresSource(SourceConfig config, string connectionString, string[] schemas)
    {
        _config = config;
        _schemas = schemas;
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        builder.ApplicationName ??= "tributary";
        if (!ConnectionStringSets(connectionString, "Max Auto Prepare"))
        {
            // Statements a model repeats, and every named tool's, are prepared once per connection.
            builder.MaxAutoPrepare = 64;
        }

        DataSource = BuildDataSource(builder.ConnectionString);
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Unmapped types are only read as strings (enum labels); no CLR enum or range type is mapped, which is the reflection path.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "As above: reading an unmapped enum as a string needs no generated code.")]
    private static NpgsqlDataSource BuildDataSource(string connectionString) =>
        new NpgsqlSlimDataSourceBuilder(connectionString)
            .EnableArrays()
            .EnableRanges()
            .EnableMultiranges()
            .EnableJsonTypes()
            .EnableNetworkTypes()
            .EnableFullTextSearch()
            .EnableGeometricTypes()
            .EnableLTree()
            .EnableTransportSecurity()
            .EnableUnmappedTypes()
            .Build();

    /// <summary>The pooled Npgsql data source (writes and change capture share it).</summary>
    internal NpgsqlDataSource DataSource { get; }

    /// <inheritdoc />
    public string Name => _config.Name;

    /// <inheritdoc />
    public string Kind => PostgresProvider.KindName;

    /// <inheritdoc />
    public string Description => _config.Description;

    /// <inheritdoc />
    public bool IsReadOnly => true;

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> ListTablesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await Guard(() => PostgresSchemaReader.ListAsync(connection, _schemas, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public async Task<DatabaseSchema> DescribeAsync(string? table, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await Guard(() => PostgresSchemaReader.ReadAsync(connection, Name, _schemas, table, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public async Task QueryAsync(QueryRequest request, QueryResultWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(output);
        var statement = PostgresStatement.ForQuery(request.Sql, request.Parameters, Name);

        // Queries that can be a subquery get their page cut on the server, so a large result is never sent in full.
        var paged = statement.FirstKeyword is "select" or "with" or "values" or "table";
        var sql = paged
            ? $"SELECT * FROM (\n{statement.Sql}\n) AS tributary_page LIMIT {request.MaxRows + 1} OFFSET {request.Offset}"
            : statement.Sql;
        var query = new NpgsqlBatchCommand(sql);
        foreach (var value in statement.Values)
        {
            query.Parameters.Add(Parameter(value));
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("BEGIN TRANSACTION READ ONLY"),
                new NpgsqlBatchCommand(TimeoutSql(_config.StatementTimeout)),
                query,
                new NpgsqlBatchCommand("ROLLBACK"),
            },
            Timeout = ClientTimeoutSeconds(_config.StatementTimeout),
        };
        try
        {
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            await output.WriteAsync(new PostgresRowReader(reader), request.Offset, request.MaxRows, request.MaxBytes, cancellationToken, offsetApplied: paged);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            await RollbackAsync(connection);
            throw Translate(e);
        }
        catch (OperationCanceledException)
        {
            await RollbackAsync(connection);
            throw;
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => DataSource.DisposeAsync();

    /// <summary>A parameter sent as text of unknown type, so PostgreSQL infers its type from where it is used (a timestamp, an enum, ...).</summary>
    internal static NpgsqlParameter Parameter(object? value) => value switch
    {
        null => new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Unknown },
        string s => new NpgsqlParameter { Value = s, NpgsqlDbType = NpgsqlDbType.Unknown },
        bool b => new NpgsqlParameter { Value = b ? "true" : "false", NpgsqlDbType = NpgsqlDbType.Unknown },
        IFormattable f => new NpgsqlParameter { Value = f.ToString(null, CultureInfo.InvariantCulture), NpgsqlDbType = NpgsqlDbType.Unknown },
        _ => new NpgsqlParameter { Value = value.ToString(), NpgsqlDbType = NpgsqlDbType.Unknown },
    };

    /// <summary><c>SET LOCAL statement_timeout</c> for <paramref name="timeout"/>.</summary>
    internal static string TimeoutSql(TimeSpan timeout) =>
        $"SET LOCAL statement_timeout = {Math.Max(1, (long)timeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The client-side backstop: the server's own timeout plus a margin for a network that stopped answering.</summary>
    internal static int ClientTimeoutSeconds(TimeSpan timeout) => (int)Math.Ceiling(timeout.TotalSeconds) + 5;

    /// <summary>Opens a pooled connection; an unreachable server is a tool error that says so.</summary>
    internal async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await DataSource.OpenConnectionAsync(cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or SocketException)
        {
            throw Translate(e);
        }
    }

    /// <summary>Ends a failed transaction before the connection goes back to the pool; a broken connection is discarded by the pool.</summary>
    internal static async Task RollbackAsync(NpgsqlConnection connection)
    {
        if (connection.FullState != System.Data.ConnectionState.Open)
        {
            return;
        }

        try
        {
            await using var rollback = new NpgsqlCommand("ROLLBACK", connection);
            await rollback.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            // The connection broke: the pool will not hand it out again.
        }
    }

    /// <summary>Turns a driver error into a tool error the model can act on; the server's message is kept, connection details are not.</summary>
    internal ToolException Translate(Exception error) => error switch
    {
        PostgresException { SqlState: PostgresErrorCodes.QueryCanceled } =>
            new ToolException($"the statement was cancelled after {_config.StatementTimeout.TotalSeconds:0.###} s (statement_timeout of source '{Name}'): narrow it with WHERE or LIMIT, or raise statement_timeout"),
        PostgresException { SqlState: PostgresErrorCodes.ReadOnlySqlTransaction } e =>
            new ToolException($"source '{Name}' is read-only here: only a single SELECT (or WITH ... SELECT) statement may run ({e.MessageText})"),
        PostgresException { SqlState: PostgresErrorCodes.UndefinedTable } e =>
            new ToolException($"{e.MessageText}: call describe_schema on source '{Name}' for its tables"),
        PostgresException { SqlState: PostgresErrorCodes.SyntaxError } e when e.MessageText.Contains("multiple commands", StringComparison.Ordinal) =>
            new ToolException("exactly one statement may run per call: remove the text after the ';'"),
        PostgresException e => new ToolException($"SQL error {e.SqlState}: {e.MessageText}{(e.Hint is null ? "" : $" (hint: {e.Hint})")}"),
        TimeoutException or NpgsqlException { InnerException: TimeoutException } =>
            new ToolException($"source '{Name}' did not answer in time: the database may be overloaded or unreachable; try again shortly"),
        _ => new ToolException($"source '{Name}' is unreachable right now (the database refused or dropped the connection); try again shortly"),
    };

    private async Task<T> Guard<T>(Func<Task<T>> read, CancellationToken cancellationToken)
    {
        try
        {
            return await read();
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            throw Translate(e);
        }
    }

    private static bool ConnectionStringSets(string connectionString, string key) =>
        connectionString.Contains(key, StringComparison.OrdinalIgnoreCase) ||
        connectionString.Contains(key.Replace(" ", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
}
