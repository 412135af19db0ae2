using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Npgsql;
using Tributary.Testing;

namespace Tributary.Bench;

/// <summary>A PostgreSQL workload: the same statement through Tributary's tool and through Npgsql in process.</summary>
/// <param name="Name">Label in the report (the Tributary and the raw cells share it).</param>
/// <param name="Tributary">The MCP tool call.</param>
/// <param name="Raw">The raw side: worker index to its caller (one pooled data source for all workers).</param>
/// <param name="Target">Tributary ÷ raw calls/s to reach at the highest concurrency the workload runs at, on each transport; null: none (the ratio is still reported).</param>
/// <param name="Statement">What both sides run, for the report (Markdown).</param>
/// <param name="Writes">True for a workload that writes (<c>--workloads pg-write</c>), false for a read (<c>pg-read</c>).</param>
/// <param name="Concurrency">Concurrencies to run it at; null: the run's (<c>--concurrency</c>).</param>
/// <param name="Throughput">A target on Tributary's own calls/s, on each transport; null: none.</param>
internal sealed record PgWorkload(string Name, Workload Tributary, Func<int, CallAsync> Raw, double? Target, string Statement, bool Writes = false, int[]? Concurrency = null, ThroughputTarget? Throughput = null);

/// <summary>A target on Tributary's calls/s: at least <paramref name="CallsPerSecond"/> at <paramref name="Concurrency"/>.</summary>
/// <param name="CallsPerSecond">The least calls/s.</param>
/// <param name="Concurrency">The concurrency it applies at (not met, "n/a", when the run leaves it out).</param>
/// <param name="Label">The target as the report names it.</param>
internal sealed record ThroughputTarget(double CallsPerSecond, int Concurrency, string Label);

/// <summary>
/// The PostgreSQL part of the benchmark: a throwaway server (<see cref="PostgresServer"/> from tests/Common), a benchmark
/// database with 1,000,000 orders, Tributary's configuration for it, and the raw Npgsql side that runs the same statements
/// in the load generator's own process.
/// </summary>
internal sealed class PostgresBench : IAsyncDisposable
{
    public const string SourceName = "pg";
    public const string DatabaseName = "bench";
    public const int OrderCount = 1_000_000;

    /// <summary>Report label of the raw side (its transport is <see cref="RawTransport"/>).</summary>
    public const string RawServer = "Npgsql (raw)";
    public const string RawTransport = "in-process";

    public const string PointWorkload = "pg point query";
    public const string RowsWorkload = "pg 1000-row result";
    public const string WriteWorkload = "pg update_rows";
    public const double PointTarget = 0.60;
    public const double RowsTarget = 0.80;

    /// <summary>The write target (the issue's): Tributary's update_rows, audited, at least this many writes/s at <see cref="WriteTargetConcurrency"/>.</summary>
    public const double WriteTarget = 1_000;
    public const int WriteTargetConcurrency = 8;

    /// <summary>The point query as the raw side sends it: the same statement with a positional parameter.</summary>
    public const string RawPointSql = "SELECT * FROM orders WHERE id = $1";

    /// <summary>The raw write's first round trip (as Tributary's first batch, without its <c>xmin</c>): the row locked.</summary>
    public const string RawLockSql = "SELECT * FROM orders WHERE id = $1 FOR UPDATE";

    /// <summary>The raw write's second round trip, followed by COMMIT in the same batch (as Tributary's second batch, without <c>xmin</c>).</summary>
    public const string RawUpdateSql = "UPDATE orders SET note = $1, version = version + 1 WHERE id = $2 RETURNING *";

    /// <summary>
    /// The benchmark database, like the peers' one: 8 columns, 1,000,000 rows from generate_series. The primary key is
    /// added after the load (faster than maintaining it row by row); values derive from the row number, so every seed is
    /// identical. Timestamps carry microseconds; every 7th note is NULL; shipped_at is set for shipped and delivered orders.
    /// </summary>
    public const string Schema = """
        SET maintenance_work_mem = '256MB';
        CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'delivered', 'cancelled');
        CREATE TABLE orders (
            id          serial,
            customer_id int NOT NULL,
            status      order_status NOT NULL DEFAULT 'pending',
            total       numeric(12,2) NOT NULL,
            note        text NULL,
            created_at  timestamptz NOT NULL,
            shipped_at  timestamptz NULL,
            version     int NOT NULL DEFAULT 1
        );
        INSERT INTO orders (id, customer_id, status, total, note, created_at, shipped_at)
        SELECT n,
               1 + (n::bigint * 7919) % 50000,
               (ARRAY['pending', 'paid', 'shipped', 'delivered', 'cancelled']::order_status[])[1 + n % 5],
               ((n::bigint * 7919) % 100000 / 100.0)::numeric(12,2),
               CASE WHEN n % 7 = 0 THEN NULL ELSE 'Order ' || n || ' for customer ' || (1 + (n::bigint * 7919) % 50000) END,
               timestamptz '2023-01-01 00:00:00+00' + n * interval '29.123457 seconds',
               CASE WHEN n % 5 IN (2, 3) THEN timestamptz '2023-01-01 00:00:00+00' + n * interval '29.123457 seconds' + (1 + n % 9) * interval '7 hours' END
        FROM generate_series(1, 1000000) AS n;
        ALTER TABLE orders ADD PRIMARY KEY (id);
        SELECT setval(pg_get_serial_sequence('orders', 'id'), 1000000);
        """;

    private static readonly string[] ServerTools = ["initdb", "pg_ctl", "postgres"];

    private static readonly string[] Columns = ["id", "customer_id", "status", "total", "note", "created_at", "shipped_at", "version"];

    private readonly PostgresServer _server;
    private readonly NpgsqlDataSource _raw;

    private PostgresBench(PostgresServer server, string connectionString, NpgsqlDataSource raw)
    {
        _server = server;
        ConnectionString = connectionString;
        _raw = raw;
    }

    /// <summary>The benchmark database's connection string, as Tributary's configuration gives it.</summary>
    public string ConnectionString { get; }

    /// <summary>Tributary's configuration file: one source <see cref="SourceName"/> of kind postgres, orders writable.</summary>
    public string ConfigFile { get; private set; } = "";

    /// <summary>Seconds spent creating, filling, indexing and analysing the benchmark table.</summary>
    public double SeedSeconds { get; private set; }

    /// <summary>The server's <c>server_version</c>.</summary>
    public string ServerVersion { get; private set; } = "";

    /// <summary>The newest installed <c>/usr/lib/postgresql/VERSION/bin</c> with initdb, pg_ctl and postgres (as the fixture looks for it), or null.</summary>
    public static string? FindBinaries() =>
        (Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql") : [])
            .Select(dir => Path.Combine(dir, "bin"))
            .Where(bin => ServerTools.All(tool => File.Exists(Path.Combine(bin, tool))))
            .Order(StringComparer.Ordinal)
            .LastOrDefault();

    /// <summary>Starts a throwaway server, seeds the benchmark database and writes Tributary's configuration into <paramref name="directory"/>.</summary>
    public static async Task<PostgresBench> StartAsync(string directory)
    {
        var server = new PostgresServer();
        await server.InitializeAsync();
        try
        {
            var connectionString = await server.CreateDatabaseAsync(DatabaseName);
            var seed = Stopwatch.StartNew();
            await server.ExecuteAsync(connectionString, Schema);
            // VACUUM cannot run in the script's implicit transaction. It also sets the hint bits and the visibility map,
            // so the first reads of the measurement do not write pages.
            await server.ExecuteAsync(connectionString, "VACUUM (ANALYZE) orders");
            var seconds = seed.Elapsed.TotalSeconds;

            // The raw side: Npgsql's default (full) data source builder, pooled, with the driver settings Tributary's source
            // uses (Max Auto Prepare=64, No Reset On Close), so that neither side pays for parsing, planning or a reset.
            var raw = new NpgsqlDataSourceBuilder(new NpgsqlConnectionStringBuilder(connectionString)
            {
                ApplicationName = "tributary-bench-raw",
                MaxAutoPrepare = 64,
                NoResetOnClose = true,
            }.ConnectionString).Build();
            var bench = new PostgresBench(server, connectionString, raw) { SeedSeconds = seconds };
            await using (var version = raw.CreateCommand("SHOW server_version"))
            {
                bench.ServerVersion = (string)(await version.ExecuteScalarAsync())!;
            }

            // orders is writable for update_rows (note and status; version column version): Tributary then keeps its
            // audit log (one entry per committed write) in state.db under data_dir, a folder of this run.
            bench.ConfigFile = Path.Combine(directory, "tributary-postgres.yaml");
            var stateDirectory = Path.Combine(directory, "tributary-postgres-state");
            Directory.CreateDirectory(stateDirectory);
            await File.WriteAllTextAsync(bench.ConfigFile, $$"""
                # Written by tributary-bench (bench/Tributary.Bench/Postgres.cs) for one run; deleted with it.
                server:
                  data_dir: {{JsonSerializer.Serialize(stateDirectory)}}
                sources:
                  {{SourceName}}:
                    kind: postgres
                    description: Benchmark orders ({{OrderCount:N0}} rows)
                    connection_string: {{connectionString}}
                    max_rows: 1000
                    max_rows_limit: 1000
                    writable: true
                    tables:
                      orders:
                        version_column: version
                        columns:
                          status: {}
                          note: { max_length: 200 }

                """);
            return bench;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>The PostgreSQL workloads, each through Tributary and raw.</summary>
    public IReadOnlyList<PgWorkload> Workloads() =>
    [
        new(PointWorkload, Workload.PointQuery(SourceName, OrderCount, PointWorkload), RawPoint(Workload.PointIds(OrderCount)), PointTarget,
            $"`{Workload.PointSql}` through `query` (raw: `{RawPointSql}`), a random id from 1 to {OrderCount:N0}"),
        new(RowsWorkload, Workload.Rows1000(SourceName, RowsWorkload), RawRows1000(), RowsTarget,
            $"`{Workload.RowsSql}` through `query` with max_rows 1000"),

        // One row updated per call, committed and audited; no ratio target, a throughput target at c=8 (the issue's).
        new(WriteWorkload, Workload.UpdateRow(SourceName, Workload.WriteIds(OrderCount), WriteWorkload), RawUpdateRow(Workload.WriteIds(OrderCount)), null,
            $"`update_rows {{source, table: \"orders\", key: {{id}}, set: {{note: \"bench i\"}}}}` (no expected_version; a random id from 1001 to {OrderCount:N0}, never one the reads use), each committed with an audit entry in state.db; raw: `BEGIN; {RawLockSql}`, then `{RawUpdateSql}; COMMIT` (two round trips, as Tributary)",
            Writes: true,
            Throughput: new(WriteTarget, WriteTargetConcurrency, $"{WriteWorkload} with audit ≥ {WriteTarget:N0} writes/s at c={WriteTargetConcurrency}")),
    ];

    /// <summary>CPU time (user + system) of the PostgreSQL server: the postmaster with its reaped children, plus its live children (backends, background workers).</summary>
    public TimeSpan? CpuTime()
    {
        try
        {
            var postmaster = int.Parse(File.ReadLines(Path.Combine(_server.DataDirectory, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
            var total = ProcFs.CpuTime(postmaster, includeReapedChildren: true);
            foreach (var child in ProcFs.Children(postmaster))
            {
                total += ProcFs.CpuTime(child) ?? TimeSpan.Zero;
            }

            return total;
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The raw point query: one pooled command per call, the id as a typed positional parameter.</summary>
    private Func<int, CallAsync> RawPoint(int[] ids) => _ =>
    {
        var sink = new JsonSink();
        return async (sequence, check, cancellationToken) =>
        {
            await using var command = _raw.CreateCommand(RawPointSql);
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = ids[sequence % ids.Length] });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var rows = await sink.WriteAsync(reader, check, cancellationToken);
            if (check && rows != 1)
            {
                throw new InvalidOperationException($"raw point query: expected 1 row, got {rows}");
            }
        };
    };

    /// <summary>The raw 1000-row query: the same statement, no parameters.</summary>
    private Func<int, CallAsync> RawRows1000() => _ =>
    {
        var sink = new JsonSink();
        return async (_, check, cancellationToken) =>
        {
            await using var command = _raw.CreateCommand(Workload.RowsSql);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var rows = await sink.WriteAsync(reader, check, cancellationToken);
            if (check && rows != 1000)
            {
                throw new InvalidOperationException($"raw 1000-row query: expected 1000 rows, got {rows}");
            }
        };
    };

    /// <summary>
    /// The raw single-row write, as Tributary's PostgreSQL source runs update_rows (two round trips on one pooled
    /// connection): a batch of BEGIN and <see cref="RawLockSql"/>, then a batch of <see cref="RawUpdateSql"/> and COMMIT.
    /// Both rows (before and after) are read with the typed getters and written as JSON objects, as Tributary returns them.
    /// Tributary's batches also read <c>xmin</c>; the raw side does not.
    /// </summary>
    private Func<int, CallAsync> RawUpdateRow(int[] ids) => _ =>
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        return async (sequence, check, cancellationToken) =>
        {
            var index = (int)(sequence % ids.Length);
            var id = ids[index];
            var note = Workload.WriteNote(index);
            await using var connection = await _raw.OpenConnectionAsync(cancellationToken);
            try
            {
                buffer.ResetWrittenCount();
                using var json = new Utf8JsonWriter(buffer);
                json.WriteStartObject();
                json.WriteString("table"u8, "orders");
                json.WriteStartObject("key"u8);
                json.WriteNumber("id"u8, id);
                json.WriteEndObject();
                int before;
                await using (var first = new NpgsqlBatch(connection) { BatchCommands = { new("BEGIN"), new(RawLockSql) { Parameters = { new NpgsqlParameter<int> { TypedValue = id } } } } })
                await using (var reader = await first.ExecuteReaderAsync(cancellationToken))
                {
                    if (!await reader.ReadAsync(cancellationToken))
                    {
                        throw new InvalidOperationException($"raw update: no order {id}");
                    }

                    json.WritePropertyName("before"u8);
                    before = JsonSink.WriteObject(reader, json, check);
                }

                int version;
                await using (var second = new NpgsqlBatch(connection)
                {
                    BatchCommands =
                    {
                        new(RawUpdateSql) { Parameters = { new NpgsqlParameter<string> { TypedValue = note }, new NpgsqlParameter<int> { TypedValue = id } } },
                        new("COMMIT"),
                    },
                })
                await using (var reader = await second.ExecuteReaderAsync(cancellationToken))
                {
                    if (!await reader.ReadAsync(cancellationToken))
                    {
                        throw new InvalidOperationException($"raw update: order {id} was not updated");
                    }

                    json.WritePropertyName("after"u8);
                    version = JsonSink.WriteObject(reader, json, check);
                    if (check && (reader.GetString(4) != note || reader.GetInt32(0) != id))
                    {
                        throw new InvalidOperationException($"raw update: order {id} has note '{reader.GetString(4)}', not '{note}'");
                    }
                }

                json.WriteNumber("version"u8, version);
                json.WriteEndObject();
                json.Flush();
                if (check && version != before + 1)
                {
                    throw new InvalidOperationException($"raw update: order {id} went from version {before} to {version}");
                }
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or OperationCanceledException)
            {
                await RollbackAsync(connection);
                throw;
            }
        };
    };

    /// <summary>Ends a failed write's transaction before the connection goes back to the pool (as Tributary does).</summary>
    private static async Task RollbackAsync(NpgsqlConnection connection)
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
            // A broken connection: the pool does not hand it out again.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _raw.DisposeAsync();
        await _server.DisposeAsync();
    }

    /// <summary>
    /// What the raw side does with a result: every value of every row read with its typed getter and written with
    /// <see cref="Utf8JsonWriter"/> into a reused buffer, in Tributary's compact shape
    /// (<c>{"columns":[{"name","type"}...],"rows":[[...]],"row_count":N}</c>). One sink per worker; the buffer is kept,
    /// the (small) writer object is new on each call.
    /// </summary>
    private sealed class JsonSink
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(4096);

        public async ValueTask<int> WriteAsync(NpgsqlDataReader reader, bool check, CancellationToken cancellationToken)
        {
            if (check && !reader.GetColumnSchema().Select(c => c.ColumnName).SequenceEqual(Columns))
            {
                throw new InvalidOperationException($"raw query: unexpected columns {string.Join(", ", reader.GetColumnSchema().Select(c => c.ColumnName))}");
            }

            _buffer.ResetWrittenCount();
            using var json = new Utf8JsonWriter(_buffer);
            json.WriteStartObject();
            json.WriteStartArray("columns");
            for (var i = 0; i < reader.FieldCount; i++)
            {
                json.WriteStartObject();
                json.WriteString("name", reader.GetName(i));
                json.WriteString("type", reader.GetDataTypeName(i));
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartArray("rows");
            var rows = 0;
            while (await reader.ReadAsync(cancellationToken))
            {
                json.WriteStartArray();
                WriteValues(reader, json, names: false);
                json.WriteEndArray();
                rows++;
            }

            json.WriteEndArray();
            json.WriteNumber("row_count", rows);
            json.WriteEndObject();
            json.Flush();
            if (check)
            {
                using var parsed = JsonDocument.Parse(_buffer.WrittenMemory);
                if (parsed.RootElement.GetProperty("rows").GetArrayLength() != rows)
                {
                    throw new InvalidOperationException("raw query: the JSON written does not hold every row");
                }
            }

            return rows;
        }

        /// <summary>The current row of an orders statement as a JSON object (column name to value); returns its version.</summary>
        public static int WriteObject(NpgsqlDataReader reader, Utf8JsonWriter json, bool check)
        {
            if (check && !Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).SequenceEqual(Columns))
            {
                throw new InvalidOperationException($"raw update: unexpected columns {string.Join(", ", Enumerable.Range(0, reader.FieldCount).Select(reader.GetName))}");
            }

            json.WriteStartObject();
            WriteValues(reader, json, names: true);
            json.WriteEndObject();
            return reader.GetInt32(7);
        }

        /// <summary>Every value of the current row with its typed getter; with <paramref name="names"/>, each after its column name.</summary>
        private static void WriteValues(NpgsqlDataReader reader, Utf8JsonWriter json, bool names)
        {
            void Name(int i)
            {
                if (names)
                {
                    json.WritePropertyName(Columns[i]);
                }
            }

            Name(0);
            json.WriteNumberValue(reader.GetInt32(0));
            Name(1);
            json.WriteNumberValue(reader.GetInt32(1));
            Name(2);
            json.WriteStringValue(reader.GetString(2));
            Name(3);
            json.WriteNumberValue(reader.GetDecimal(3));
            Name(4);
            if (reader.IsDBNull(4))
            {
                json.WriteNullValue();
            }
            else
            {
                json.WriteStringValue(reader.GetString(4));
            }

            Name(5);
            json.WriteStringValue(reader.GetDateTime(5));
            Name(6);
            if (reader.IsDBNull(6))
            {
                json.WriteNullValue();
            }
            else
            {
                json.WriteStringValue(reader.GetDateTime(6));
            }

            Name(7);
            json.WriteNumberValue(reader.GetInt32(7));
        }
    }
}
