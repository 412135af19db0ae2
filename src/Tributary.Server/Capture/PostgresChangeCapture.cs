using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;
using Tributary.Core.Configuration;
using Tributary.Topics;

namespace Tributary.Server.Capture;

/// <summary>
/// Change capture for a PostgreSQL source: a trigger function writes each change of the captured tables (in the
/// source's first schema) into <c>tributary_changes</c> there, with the writing transaction's id, and notifies a
/// channel; this service LISTENs on a dedicated connection and reads the table on each notification, or every second.
/// </summary>
/// <remarks>
/// Ids are drawn before commit, so a transaction with a lower id can commit after a higher one was read. Changes are
/// therefore read in (transaction id, id) order, and only those of transactions older than the oldest one still running
/// (<c>pg_snapshot_xmin</c>): every such transaction has ended, so no change can join before the position afterwards. A
/// transaction that writes and stays open, anywhere on the cluster, holds capture back until it ends.
/// </remarks>
internal sealed class PostgresChangeCapture : ChangeCapture
{
    /// <summary>The table the trigger function writes, in the source's first schema.</summary>
    public const string ChangeTable = "tributary_changes";

    /// <summary>The trigger function, in the same schema.</summary>
    public const string Function = "tributary_capture";

    /// <summary>The oldest PostgreSQL that capture runs on (<c>CREATE OR REPLACE TRIGGER</c>).</summary>
    private const int MinimumServerVersion = 140000;

    private const int PruneBatch = 5_000;

    /// <summary>How often the table is read without a notification: changes held back by an open transaction are seen within this.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private readonly string _schema;
    private readonly NpgsqlDataSource _dataSource;
    private bool _installed;

    /// <summary>Creates the service; nothing connects until it runs.</summary>
    public PostgresChangeCapture(SourceConfig source, string connectionString, string schema, IEventStore store, ILogger<PostgresChangeCapture> logger)
        : base(source, store, logger)
    {
        _schema = schema;
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            // The one connection is held for as long as capture runs; the name tells it apart in pg_stat_activity.
            ApplicationName = ApplicationName(source.Name),
            Pooling = false,
        };
        _dataSource = new NpgsqlSlimDataSourceBuilder(builder.ConnectionString).EnableArrays().EnableTransportSecurity().Build();
    }

    /// <summary>The <c>application_name</c> of the capture's connection to source <paramref name="source"/>.</summary>
    public static string ApplicationName(string source) => $"tributary-capture-{source}";

    /// <inheritdoc />
    protected override bool OrdersByTransaction => true;

    /// <summary>The notification channel: one per schema (a channel name is at most 63 bytes; a clash only wakes a reader for nothing).</summary>
    private string Channel
    {
        get
        {
            var channel = $"{ChangeTable}_{_schema}";
            return channel.Length > 63 ? channel[..63] : channel;
        }
    }

    private string QualifiedChangeTable => $"{Quote(_schema)}.{ChangeTable}";

    /// <inheritdoc />
    protected override async Task<IChangeFeed> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            if (!_installed)
            {
                await InstallAsync(connection, cancellationToken);
                _installed = true;
            }

            var feed = new Feed(connection, QualifiedChangeTable);
            await Execute(connection, null, $"LISTEN {Quote(Channel)}", cancellationToken);
            return feed;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        base.Dispose();
        _dataSource.Dispose();
    }

    /// <summary>
    /// Creates the change table and the trigger function if they are missing or out of date, and makes the triggers match
    /// the configuration, in one transaction; concurrent installers wait for each other. Only what differs is changed,
    /// so a restart with the same configuration needs no rights beyond reading the catalog, and locks no table.
    /// </summary>
    internal async Task InstallAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await Execute(connection, transaction, "SET LOCAL lock_timeout = '3s'", cancellationToken);
        await Execute(connection, transaction, $"SELECT pg_advisory_xact_lock(hashtext('{Function}'), hashtext({Literal(_schema)}))", cancellationToken);
        var state = await ReadStateAsync(connection, transaction, cancellationToken);
        var plan = Plan(state);
        if (plan.Problems.Count > 0)
        {
            throw new CaptureSetupException(string.Join("; ", plan.Problems));
        }

        if (!state.ChangeTableExists)
        {
            await Execute(connection, transaction, $"""
                CREATE TABLE {QualifiedChangeTable} (
                    id         bigserial PRIMARY KEY,
                    txid       xid8 NOT NULL DEFAULT pg_current_xact_id(),
                    table_name text NOT NULL,
                    op         text NOT NULL,
                    "row"      jsonb NOT NULL,
                    at         timestamptz NOT NULL DEFAULT clock_timestamp()
                );
                CREATE INDEX {ChangeTable}_txid_id ON {QualifiedChangeTable} (txid, id);
                COMMENT ON TABLE {QualifiedChangeTable} IS 'Changes of the tables Tributary captures; Tributary deletes them once its topics hold them.'
                """, cancellationToken);
        }

        if (state.FunctionBody != FunctionBody)
        {
            // SECURITY DEFINER: the change is written with the rights of Tributary's role, so the application's roles
            // need none on the change table.
            await Execute(connection, transaction, $"""
                CREATE OR REPLACE FUNCTION {Quote(_schema)}.{Function}() RETURNS trigger
                LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
                AS $tributary${FunctionBody}$tributary$
                """, cancellationToken);
        }

        foreach (var (schema, table, trigger) in plan.Drop)
        {
            await Execute(connection, transaction, $"DROP TRIGGER {Quote(trigger)} ON {Quote(schema)}.{Quote(table)}", cancellationToken);
        }

        foreach (var (table, operation, columns) in plan.Create)
        {
            await Execute(connection, transaction, $"""
                CREATE OR REPLACE TRIGGER {Quote(TriggerName(operation))} AFTER {operation.ToUpperInvariant()} ON {Quote(_schema)}.{Quote(table)}
                FOR EACH ROW EXECUTE FUNCTION {Quote(_schema)}.{Function}({string.Join(", ", columns.Select(Literal))})
                """, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The trigger function: the changed row (only the columns given as arguments, when there are any), then a notification.</summary>
    private string FunctionBody => $$"""

        DECLARE
            changed jsonb;
        BEGIN
            IF TG_OP = 'DELETE' THEN
                changed := to_jsonb(OLD);
            ELSE
                changed := to_jsonb(NEW);
            END IF;
            IF TG_NARGS > 0 THEN
                SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}') INTO changed FROM jsonb_each(changed) AS e WHERE e.key = ANY (TG_ARGV);
            END IF;
            INSERT INTO {{QualifiedChangeTable}} (table_name, op, "row") VALUES (TG_TABLE_NAME, lower(TG_OP), changed);
            PERFORM pg_notify({{Literal(Channel)}}, '');
            RETURN NULL;
        END

        """;

    private static string TriggerName(string operation) => $"tributary_{operation}";

    /// <summary>What must change, or the problems that stop it, from the catalog as it is.</summary>
    private InstallPlan Plan(CatalogState state)
    {
        var plan = new InstallPlan();
        var role = state.Role;
        if (state.ServerVersion < MinimumServerVersion)
        {
            plan.Problems.Add($"the server runs PostgreSQL {state.ServerVersion / 10000}, and change capture needs PostgreSQL 14 or newer");
            return plan;
        }

        if (!state.SchemaExists)
        {
            plan.Problems.Add($"schema '{_schema}' (the source's first schema, where captured tables are) does not exist");
            return plan;
        }

        if (!state.SchemaUsage)
        {
            plan.Problems.Add($"role '{role}' lacks USAGE on schema '{_schema}': GRANT USAGE ON SCHEMA {Quote(_schema)} TO {Quote(role)}");
            return plan;
        }

        if ((!state.ChangeTableExists || state.FunctionBody is null) && !state.SchemaCreate)
        {
            plan.Problems.Add($"role '{role}' lacks CREATE on schema '{_schema}', needed once to create the change table {_schema}.{ChangeTable} and the function {_schema}.{Function}: GRANT CREATE ON SCHEMA {Quote(_schema)} TO {Quote(role)} (or run Tributary once as a role that has it)");
        }

        if (state.ChangeTableExists && !state.ChangeTableReadable)
        {
            plan.Problems.Add($"role '{role}' cannot read and delete the changes in {_schema}.{ChangeTable}: GRANT SELECT, DELETE ON {Quote(_schema)}.{ChangeTable} TO {Quote(role)}");
        }

        if (state.FunctionBody is not null && state.FunctionBody != FunctionBody && !state.FunctionOwned)
        {
            plan.Problems.Add($"the function {_schema}.{Function} is out of date and belongs to another role: run Tributary once as its owner");
        }

        var existing = state.Triggers.ToDictionary(t => (t.Schema, t.Table, t.Name));
        var wanted = new HashSet<(string Schema, string Table, string Name)>();
        foreach (var capture in Source.Captures)
        {
            if (!state.Tables.TryGetValue(capture.Table, out var table))
            {
                plan.Problems.Add($"table '{capture.Table}' does not exist in schema '{_schema}', so it cannot be captured");
                continue;
            }

            if (table.Kind is not ("r" or "p"))
            {
                plan.Problems.Add($"'{capture.Table}' in schema '{_schema}' is not a table (a view or another relation), so it cannot be captured");
                continue;
            }

            var missing = capture.Columns?.Where(c => !table.Columns.Contains(c)).ToList() ?? [];
            if (missing.Count > 0)
            {
                plan.Problems.Add($"table '{capture.Table}' has no column {string.Join(", ", missing.Select(c => $"'{c}'"))}");
                continue;
            }

            var arguments = Arguments(capture.Columns ?? []);
            var lacksTrigger = false;
            foreach (var operation in capture.Operations)
            {
                var name = TriggerName(operation);
                wanted.Add((_schema, capture.Table, name));
                if (existing.TryGetValue((_schema, capture.Table, name), out var trigger) && trigger.Type == TriggerType(operation) && trigger.Arguments.AsSpan().SequenceEqual(arguments))
                {
                    continue;
                }

                plan.Create.Add((capture.Table, operation, capture.Columns ?? []));
                lacksTrigger |= !table.TriggerRight;
            }

            if (lacksTrigger)
            {
                plan.Problems.Add($"role '{role}' lacks TRIGGER on table '{capture.Table}': GRANT TRIGGER ON {Quote(_schema)}.{Quote(capture.Table)} TO {Quote(role)}");
            }
        }

        foreach (var trigger in state.Triggers.Where(t => !wanted.Contains((t.Schema, t.Table, t.Name))))
        {
            plan.Drop.Add((trigger.Schema, trigger.Table, trigger.Name));
            if (!trigger.TableOwned)
            {
                plan.Problems.Add($"trigger {trigger.Name} on {trigger.Schema}.{trigger.Table} captures what is no longer configured, and only the table's owner may drop it: DROP TRIGGER {Quote(trigger.Name)} ON {Quote(trigger.Schema)}.{Quote(trigger.Table)} as its owner");
            }
        }

        return plan;
    }

    /// <summary>The trigger's <c>tgtype</c>: FOR EACH ROW (1), AFTER (no BEFORE bit), and the operation's bit.</summary>
    private static int TriggerType(string operation) => operation switch
    {
        "insert" => 1 | 4,
        "delete" => 1 | 8,
        _ => 1 | 16,
    };

    /// <summary>The trigger's arguments as the catalog keeps them (<c>tgargs</c>): each one followed by a zero byte.</summary>
    private static byte[] Arguments(IReadOnlyList<string> columns) => Encoding.UTF8.GetBytes(string.Concat(columns.Select(c => c + "\0")));

    private async Task<CatalogState> ReadStateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        CatalogState state;
        await using (var command = new NpgsqlCommand(
            $"""
            SELECT current_user::text, current_setting('server_version_num')::int, n.oid IS NOT NULL,
                   coalesce(has_schema_privilege(n.oid, 'USAGE'), false), coalesce(has_schema_privilege(n.oid, 'CREATE'), false),
                   c.oid IS NOT NULL, coalesce(has_table_privilege(c.oid, 'SELECT') AND has_table_privilege(c.oid, 'DELETE'), false),
                   p.prosrc, coalesce(pg_has_role(p.proowner, 'USAGE'), false)
            FROM (SELECT 1) AS one
            LEFT JOIN pg_namespace AS n ON n.nspname = $1
            LEFT JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = '{ChangeTable}'
            LEFT JOIN pg_proc AS p ON p.pronamespace = n.oid AND p.proname = '{Function}' AND p.pronargs = 0
            """,
            connection,
            transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _schema });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            state = new CatalogState(
                reader.GetString(0), reader.GetInt32(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetBoolean(4),
                reader.GetBoolean(5), reader.GetBoolean(6), reader.IsDBNull(7) ? null : reader.GetString(7), reader.GetBoolean(8));
        }

        if (!state.SchemaExists || !state.SchemaUsage)
        {
            return state;
        }

        await using (var command = new NpgsqlCommand(
            """
            SELECT c.relname::text, c.relkind::text, has_table_privilege(c.oid, 'TRIGGER'),
                   ARRAY(SELECT a.attname::text FROM pg_attribute AS a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
            FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relname = ANY ($2)
            """,
            connection,
            transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _schema });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. Source.Captures.Select(c => c.Table)] });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                state.Tables[reader.GetString(0)] = new CatalogTable(reader.GetString(1), reader.GetBoolean(2), reader.GetFieldValue<string[]>(3));
            }
        }

        await using (var command = new NpgsqlCommand(
            $"""
            SELECT tn.nspname::text, c.relname::text, t.tgname::text, t.tgtype, t.tgargs, pg_has_role(c.relowner, 'USAGE')
            FROM pg_trigger AS t
            JOIN pg_proc AS p ON p.oid = t.tgfoid JOIN pg_namespace AS pn ON pn.oid = p.pronamespace
            JOIN pg_class AS c ON c.oid = t.tgrelid JOIN pg_namespace AS tn ON tn.oid = c.relnamespace
            WHERE pn.nspname = $1 AND p.proname = '{Function}' AND NOT t.tgisinternal
            """,
            connection,
            transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _schema });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                state.Triggers.Add(new CatalogTrigger(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt16(3), reader.GetFieldValue<byte[]>(4), reader.GetBoolean(5)));
            }
        }

        return state;
    }

    private static async Task Execute(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Quotes an identifier (configured names are checked to be letters, digits, '_' and '$').</summary>
    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    private sealed record CatalogState(
        string Role, int ServerVersion, bool SchemaExists, bool SchemaUsage, bool SchemaCreate,
        bool ChangeTableExists, bool ChangeTableReadable, string? FunctionBody, bool FunctionOwned)
    {
        public Dictionary<string, CatalogTable> Tables { get; } = new(StringComparer.Ordinal);

        public List<CatalogTrigger> Triggers { get; } = [];
    }

    private sealed record CatalogTable(string Kind, bool TriggerRight, string[] Columns);

    private sealed record CatalogTrigger(string Schema, string Table, string Name, short Type, byte[] Arguments, bool TableOwned);

    private sealed class InstallPlan
    {
        public List<string> Problems { get; } = [];

        public List<(string Schema, string Table, string Name)> Drop { get; } = [];

        public List<(string Table, string Operation, IReadOnlyList<string> Columns)> Create { get; } = [];
    }

    /// <summary>The change table through the listening connection.</summary>
    private sealed class Feed : IChangeFeed
    {
        private readonly NpgsqlConnection _connection;
        private readonly string _table;
        private bool _notified;

        public Feed(NpgsqlConnection connection, string table)
        {
            _connection = connection;
            _table = table;
            _connection.Notification += (_, _) => _notified = true;
        }

        public async Task<IReadOnlyList<CapturedChange>> ReadAsync(ChangePosition after, int limit, CancellationToken cancellationToken)
        {
            // A notification taken in from here on may be for a commit this read does not see: it makes WaitAsync read again.
            _notified = false;
            await using var command = new NpgsqlCommand(
                $"""
                SELECT id, txid::text::bigint, table_name, op, "row"::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                FROM {_table}
                WHERE (txid, id) > ($1::text::xid8, $2) AND txid < pg_snapshot_xmin(pg_current_snapshot())
                ORDER BY txid, id
                LIMIT $3
                """,
                _connection);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = after.Transaction.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = after.Id });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var changes = new List<CapturedChange>();
            while (await reader.ReadAsync(cancellationToken))
            {
                changes.Add(new CapturedChange(new ChangePosition(reader.GetInt64(1), reader.GetInt64(0)), reader.GetString(2), reader.GetString(3), reader.GetString(5), reader.GetString(4)));
            }

            return changes;
        }

        public async Task PruneAsync(ChangePosition through, CancellationToken cancellationToken)
        {
            // Batches keep each statement short, and its locks few.
            await using var command = new NpgsqlCommand(
                $"""
                DELETE FROM {_table} WHERE id = ANY (ARRAY(
                    SELECT id FROM {_table} WHERE (txid, id) <= ($1::text::xid8, $2) ORDER BY txid, id LIMIT {PruneBatch}))
                """,
                _connection);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = through.Transaction.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = through.Id });
            while (await command.ExecuteNonQueryAsync(cancellationToken) == PruneBatch)
            {
            }
        }

        public async Task WaitAsync(CancellationToken cancellationToken)
        {
            if (!_notified)
            {
                await _connection.WaitAsync(PollInterval, cancellationToken);
            }
        }

        public ValueTask DisposeAsync() => _connection.DisposeAsync();
    }
}
