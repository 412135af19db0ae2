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
/// <param name="Target">Tributary ÷ raw calls/s to reach at the highest concurrency the workload runs at, on each transport.</param>
/// <param name="Concurrency">Concurrencies to run it at; null: the run's (<c>--concurrency</c>).</param>
internal sealed record PgWorkload(string Name, Workload Tributary, Func<int, CallAsync> Raw, double Target, int[]? Concurrency = null);

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
    public const double PointTarget = 0.60;
    public const double RowsTarget = 0.80;

    /// <summary>The point query as the raw side sends it: the same statement with a positional parameter.</summary>
    public const string RawPointSql = "SELECT * FROM orders WHERE id = $1";

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

    /// <summary>Tributary's configuration file: one source <see cref="SourceName"/> of kind postgres.</summary>
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

            // The raw side: Npgsql's default (full) data source builder, pooled, statements prepared automatically as
            // Tributary's source does (Max Auto Prepare=64), so that neither side pays for parsing and planning.
            var raw = new NpgsqlDataSourceBuilder(new NpgsqlConnectionStringBuilder(connectionString)
            {
                ApplicationName = "tributary-bench-raw",
                MaxAutoPrepare = 64,
            }.ConnectionString).Build();
            var bench = new PostgresBench(server, connectionString, raw) { SeedSeconds = seconds };
            await using (var version = raw.CreateCommand("SHOW server_version"))
            {
                bench.ServerVersion = (string)(await version.ExecuteScalarAsync())!;
            }

            bench.ConfigFile = Path.Combine(directory, "tributary-postgres.yaml");
            await File.WriteAllTextAsync(bench.ConfigFile, $"""
                # Written by tributary-bench (bench/Tributary.Bench/Postgres.cs) for one run; deleted with it.
                sources:
                  {SourceName}:
                    kind: postgres
                    description: Benchmark orders ({OrderCount:N0} rows)
                    connection_string: {connectionString}
                    max_rows: 1000
                    max_rows_limit: 1000

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
        new(PointWorkload, Workload.PointQuery(SourceName, OrderCount, PointWorkload), RawPoint(Workload.PointIds(OrderCount)), PointTarget),
        new(RowsWorkload, Workload.Rows1000(SourceName, RowsWorkload), RawRows1000(), RowsTarget),

        // ── EXTENSION POINT: the single-row write workload (not built yet) ─────────────────────────────────────────────
        // Add one entry here and everything else (warm-up, interleaved repetitions, tables, ratio, target) follows from it:
        //   new(WriteWorkload, Workload.UpdateRow(SourceName, ...), RawUpdateRow(...), WriteTarget, Concurrency: [8]),
        // - Tributary side (Workload.UpdateRow, in Load.cs): tools/call update_rows {source: "pg", table: "orders",
        //   key: {"id": N}, set: {"note": "..."}, expected_version?: V}; its check: exactly one row updated.
        // - Raw side (RawUpdateRow, here): the same write through _raw, in a transaction as Tributary runs it:
        //   UPDATE orders SET note = $2, version = version + 1 WHERE id = $1 [AND version = $3] RETURNING version.
        // - Give each worker ids of its own, above 1000 (the 1000-row workload reads ids 1 to 1000, so its result keeps
        //   its size), and keep the last version per id on the worker when expected_version is sent, so that conflicts
        //   do not dominate. The database is seeded afresh on every run, so writes never accumulate across runs.
        // - The configuration written by StartAsync must then make the source writable: 'writable: true' and
        //   'tables: { orders: { version_column: version } }' under the source (see samples/shop-tools.yaml), and a
        //   server.data_dir in the run's folder (update_rows keeps idempotency keys and its audit log in state.db there).
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
                json.WriteNumberValue(reader.GetInt32(0));
                json.WriteNumberValue(reader.GetInt32(1));
                json.WriteStringValue(reader.GetString(2));
                json.WriteNumberValue(reader.GetDecimal(3));
                if (reader.IsDBNull(4))
                {
                    json.WriteNullValue();
                }
                else
                {
                    json.WriteStringValue(reader.GetString(4));
                }

                json.WriteStringValue(reader.GetDateTime(5));
                if (reader.IsDBNull(6))
                {
                    json.WriteNullValue();
                }
                else
                {
                    json.WriteStringValue(reader.GetDateTime(6));
                }

                json.WriteNumberValue(reader.GetInt32(7));
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
    }
}
