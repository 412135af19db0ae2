using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Queries;
using Tributary.Core.Sources;
using Tributary.Core.Writes;

namespace Tributary.Sources.Sql.Postgres;

/// <summary>
/// A PostgreSQL database through one pooled <see cref="NpgsqlDataSource"/>. Every query runs in its own
/// <c>READ ONLY</c> transaction, sent with the statement in one round trip and always rolled back, so nothing it does
/// outlives it, not even a setting changed through a function. The source's <c>statement_timeout</c> is each
/// connection's own (a startup option), in force in every transaction; a timeout or a cancelled request cancels the
/// statement on the server.
/// </summary>
public sealed class PostgresSource : IDataSource, IWritableSource, ITableReads
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
        builder.Options = $"{builder.Options} -c statement_timeout={Math.Max(1, (long)config.StatementTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)}".Trim();
        if (!ConnectionStringSets(connectionString, "Max Auto Prepare"))
        {
            // Statements a model repeats, and every named tool's, are prepared once per connection.
            builder.MaxAutoPrepare = 64;
        }

        if (!ConnectionStringSets(connectionString, "No Reset On Close"))
        {
            // Every use of a connection is one transaction that ends in ROLLBACK (queries) or COMMIT (writes), and the
            // statements that could leave session state behind (SET, PREPARE, DECLARE, LISTEN, advisory locks) are refused
            // in queries; so the reset Npgsql would send before the next use (several statements) is not needed.
            builder.NoResetOnClose = true;
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

    /// <summary>The pooled Npgsql data source of reads and writes.</summary>
    internal NpgsqlDataSource DataSource { get; }

    /// <inheritdoc />
    public string Name => _config.Name;

    /// <inheritdoc />
    public string Kind => PostgresProvider.KindName;

    /// <inheritdoc />
    public string Description => _config.Description;

    /// <inheritdoc />
    public bool IsReadOnly => !_config.Writable;

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> ListTablesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await CatalogAsync(() => PostgresSchemaReader.ListAsync(connection, _schemas, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public async Task<DatabaseSchema> DescribeAsync(string? table, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await CatalogAsync(() => PostgresSchemaReader.ReadAsync(connection, Name, _schemas, table, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public async Task QueryAsync(QueryRequest request, QueryResultWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(output);
        var statement = PostgresStatement.ForQuery(request.Sql, request.Parameters, Name);

        // Queries that can be a subquery get their page cut on the server, so a large result is never sent in full. The
        // bounds are literals (our own integers): as parameters, they made PostgreSQL plan every execution anew, which
        // cost a point query 40 µs of server CPU, more than the query itself.
        var paged = statement.FirstKeyword is "select" or "with" or "values" or "table";
        var query = new NpgsqlBatchCommand(paged
            ? $"SELECT * FROM (\n{statement.Sql}\n) AS tributary_page LIMIT {request.MaxRows + 1} OFFSET {request.Offset}"
            : statement.Sql);
        foreach (var value in statement.Values)
        {
            query.Parameters.Add(Parameter(value));
        }


        for (var attempt = 1; ; attempt++)
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var batch = new NpgsqlBatch(connection)
            {
                BatchCommands =
                {
                    new NpgsqlBatchCommand("BEGIN TRANSACTION READ ONLY"),
                    query,
                    new NpgsqlBatchCommand("ROLLBACK"),
                },
                Timeout = ClientTimeoutSeconds(_config.StatementTimeout),
            };
            NpgsqlDataReader reader;
            try
            {
                reader = await batch.ExecuteReaderAsync(cancellationToken);
            }
            catch (NpgsqlException e) when (attempt < ReadAttempts && RetryableRead(e) && !cancellationToken.IsCancellationRequested)
            {
                // Nothing was read yet: a connection the server dropped (a restart, a failover) or a transient refusal. The
                // pool discards the broken connection; the next try opens a fresh one.
                await RollbackAsync(connection);
                batch.BatchCommands.Remove(query);
                SqlSourceMetrics.Retried(Name);
                await Task.Delay(TimeSpan.FromMilliseconds(50 * attempt), cancellationToken);
                continue;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                await RollbackAsync(connection);
                throw Translate(e);
            }

            await InTransactionAsync(connection, async () =>
            {
                await using (reader)
                {
                    await output.WriteAsync(new PostgresRowReader(reader), request.Offset, request.MaxRows, request.MaxBytes, cancellationToken, offsetApplied: paged);
                }

                return true;
            });
            return;
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyCollection<string>?> TablesReadAsync(QueryRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var statement = PostgresStatement.ForQuery(request.Sql, request.Parameters, Name);
        if (statement.FirstKeyword is not ("select" or "with" or "values" or "table"))
        {
            return null;
        }

        // The planner resolves views to their tables; planning reads no rows.
        var explain = new NpgsqlBatchCommand("EXPLAIN (VERBOSE, FORMAT JSON) " + statement.Sql);
        explain.Parameters.AddRange(statement.Values.Select(Parameter).ToArray());
        await using var connection = await OpenAsync(cancellationToken);
        try
        {
            await using var batch = new NpgsqlBatch(connection)
            {
                BatchCommands = { new NpgsqlBatchCommand("BEGIN TRANSACTION READ ONLY"), explain, new NpgsqlBatchCommand("ROLLBACK") },
                Timeout = ClientTimeoutSeconds(_config.StatementTimeout),
            };
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            using var plan = JsonDocument.Parse(reader.GetString(0));
            var tables = new HashSet<string>(StringComparer.Ordinal);
            return PlanTables(plan.RootElement, tables) ? tables : null;
        }
        catch (PostgresException)
        {
            // The statement's own error comes back from the query itself.
            await RollbackAsync(connection);
            return null;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            await RollbackAsync(connection);
            throw Translate(e);
        }
    }

    /// <summary>
    /// Adds the tables a plan scans to <paramref name="tables"/>; false when the plan reads through something whose tables
    /// it does not show (a function of the database's own, a foreign or custom scan).
    /// </summary>
    private bool PlanTables(JsonElement node, HashSet<string> tables)
    {
        if (node.ValueKind == JsonValueKind.Array)
        {
            return node.EnumerateArray().All(item => PlanTables(item, tables));
        }

        if (node.ValueKind != JsonValueKind.Object)
        {
            return true;
        }

        var type = node.TryGetProperty("Node Type", out var nodeType) ? nodeType.GetString() : null;
        var schema = node.TryGetProperty("Schema", out var schemaName) ? schemaName.GetString()?.ToLowerInvariant() : null;
        if (type is "Foreign Scan" or "Custom Scan" || (type is "Function Scan" or "Table Function Scan" && schema != "pg_catalog"))
        {
            return false;
        }

        if (node.TryGetProperty("Relation Name", out var relation) && relation.GetString()?.ToLowerInvariant() is { } table)
        {
            tables.Add(schema is null || string.Equals(schema, _schemas[0], StringComparison.OrdinalIgnoreCase) ? table : $"{schema}.{table}");
        }

        return node.EnumerateObject().Where(p => p.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Array).All(p => PlanTables(p.Value, tables));
    }

    /// <summary>Tries a read may take when its connection fails before any row is read.</summary>
    private const int ReadAttempts = 3;

    /// <summary>
    /// A failure a new connection may not have: the server ended this one (57P01 to 57P03, a broken stream) or refused for
    /// lack of resources. A statement that timed out (57014) or failed on its own terms is not retried.
    /// </summary>
    private static bool RetryableRead(NpgsqlException error) => error switch
    {
        PostgresException { SqlState: "57P01" or "57P02" or "57P03" } => true,
        PostgresException { SqlState: var state } => state.StartsWith("53", StringComparison.Ordinal) || state.StartsWith("08", StringComparison.Ordinal),
        _ => error.IsTransient && error.InnerException is not TimeoutException,
    };

    /// <inheritdoc />
    public async Task<WriteOutcome> ExecuteWriteAsync(WriteStatement statement, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(statement);
        var prepared = PostgresStatement.ForWrite(statement.Sql, statement.Parameters);
        var write = new NpgsqlBatchCommand(prepared.Sql);
        write.Parameters.AddRange(prepared.Values.Select(Parameter).ToArray());
        await using var connection = await OpenAsync(cancellationToken);
        await using var batch = Transaction(connection, write, statement.DryRun ? "ROLLBACK" : "COMMIT");
        return await InTransactionAsync(connection, async () =>
        {
            var rows = new List<JsonElement>();
            await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    rows.Add(RowJson(reader, reader.FieldCount));
                }
            }

            return new WriteOutcome(write.RecordsAffected, rows);
        });
    }

    /// <inheritdoc />
    public async Task<RowChange> UpdateRowAsync(RowUpdate update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(update);
        var table = QuotedTable(update.Table.Name);
        var where = string.Join(" AND ", update.Key.Select((k, i) => $"{Quote(k.Key)} = ${i + 1}"));
        var lockRow = new NpgsqlBatchCommand($"SELECT t.*, t.xmin::text FROM {table} AS t WHERE {where} FOR UPDATE");
        lockRow.Parameters.AddRange(update.Key.Select(k => Parameter(k.Value)).ToArray());

        var assignments = update.Set.Select((c, i) => $"{Quote(c.Key)} = ${update.Key.Count + i + 1}").ToList();
        if (update.VersionColumn is { } versionColumn)
        {
            assignments.Add($"{Quote(versionColumn)} = {Quote(versionColumn)} + 1");
        }

        var change = new NpgsqlBatchCommand($"UPDATE {table} AS t SET {string.Join(", ", assignments)} WHERE {where} RETURNING t.*, t.xmin::text");
        change.Parameters.AddRange(update.Key.Concat(update.Set).Select(k => Parameter(k.Value)).ToArray());

        await using var connection = await OpenAsync(cancellationToken);
        return await InTransactionAsync(connection, async () =>
        {
            JsonElement before;
            JsonElement version;
            await using (var first = new NpgsqlBatch(connection) { BatchCommands = { new("BEGIN"), lockRow }, Timeout = ClientTimeoutSeconds(_config.StatementTimeout) })
            await using (var reader = await first.ExecuteReaderAsync(cancellationToken))
            {
                if (!await reader.ReadAsync(cancellationToken))
                {
                    await reader.DisposeAsync();
                    await RollbackAsync(connection);
                    throw new ToolException($"no row of '{update.Table.Name}' has the key {KeyText(update.Key)}: check the key with query");
                }

                before = RowJson(reader, reader.FieldCount - 1);
                version = Version(reader, before, update.VersionColumn);
            }

            if (update.ExpectedVersion is { } expected && !WriteConflictException.Matches(expected, version))
            {
                await RollbackAsync(connection);
                throw new WriteConflictException(update.Table.Name, expected, version, before);
            }

            await using var second = new NpgsqlBatch(connection) { BatchCommands = { change, new(update.DryRun ? "ROLLBACK" : "COMMIT") }, Timeout = ClientTimeoutSeconds(_config.StatementTimeout) };
            await using var changed = await second.ExecuteReaderAsync(cancellationToken);
            await changed.ReadAsync(cancellationToken);
            var after = RowJson(changed, changed.FieldCount - 1);
            return new RowChange(before, after, Version(changed, after, update.VersionColumn));
        });
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => DataSource.DisposeAsync();

    private NpgsqlBatch Transaction(NpgsqlConnection connection, NpgsqlBatchCommand statement, string end) => new(connection)
    {
        BatchCommands = { new NpgsqlBatchCommand("BEGIN"), statement, new NpgsqlBatchCommand(end) },
        Timeout = ClientTimeoutSeconds(_config.StatementTimeout),
    };

    /// <summary>The first <paramref name="columns"/> columns of the current row as a JSON object.</summary>
    private static JsonElement RowJson(NpgsqlDataReader reader, int columns)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            var values = new PostgresRowReader(reader);
            json.WriteStartObject();
            for (var i = 0; i < columns; i++)
            {
                json.WritePropertyName(reader.GetName(i));
                values.WriteValue(i, json);
            }

            json.WriteEndObject();
        }

        return JsonElement.Parse(buffer.WrittenSpan);
    }

    /// <summary>The row's version: its version column, or the transaction id that last wrote it (<c>xmin</c>, the last column read).</summary>
    private static JsonElement Version(NpgsqlDataReader reader, JsonElement row, string? versionColumn) =>
        versionColumn is null ? JsonSerializer.SerializeToElement(reader.GetString(reader.FieldCount - 1), Core.CoreJsonContext.Default.String) : row.GetProperty(versionColumn);

    private string QuotedTable(string name) => name.Contains('.', StringComparison.Ordinal)
        ? string.Join('.', name.Split('.', 2).Select(Quote))
        : $"{Quote(_schemas[0])}.{Quote(name)}";

    /// <summary>Quotes an identifier taken from the live schema.</summary>
    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static string KeyText(IReadOnlyList<KeyValuePair<string, object?>> key) =>
        "{" + string.Join(", ", key.Select(k => $"{k.Key}: {Convert.ToString(k.Value, CultureInfo.InvariantCulture)}")) + "}";

    /// <summary>A parameter sent as text of unknown type, so PostgreSQL infers its type from where it is used (a timestamp, an enum, ...).</summary>
    internal static NpgsqlParameter Parameter(object? value) => value switch
    {
        null => new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Unknown },
        string s => new NpgsqlParameter { Value = s, NpgsqlDbType = NpgsqlDbType.Unknown },
        bool b => new NpgsqlParameter { Value = b ? "true" : "false", NpgsqlDbType = NpgsqlDbType.Unknown },
        IFormattable f => new NpgsqlParameter { Value = f.ToString(null, CultureInfo.InvariantCulture), NpgsqlDbType = NpgsqlDbType.Unknown },
        _ => new NpgsqlParameter { Value = value.ToString(), NpgsqlDbType = NpgsqlDbType.Unknown },
    };

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

    /// <summary>Runs a transaction's work; on a driver error or a cancellation, rolls back before the connection goes back to the pool.</summary>
    private async Task<T> InTransactionAsync<T>(NpgsqlConnection connection, Func<Task<T>> work)
    {
        try
        {
            return await work();
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

    /// <summary>
    /// Turns a driver error into a tool error the model can act on; the server's message is kept, connection details are
    /// not. A lost server also empties the pool, so the calls after its return get fresh connections instead of dead ones.
    /// </summary>
    internal ToolException Translate(Exception error)
    {
        if (error is not PostgresException || error is PostgresException { SqlState: ['0', '8', ..] or ['5', '7', 'P', ..] })
        {
            DataSource.Clear();
        }

        return Describe(error);
    }

    private ToolException Describe(Exception error) => error switch
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

    private async Task<T> CatalogAsync<T>(Func<Task<T>> read, CancellationToken cancellationToken)
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
