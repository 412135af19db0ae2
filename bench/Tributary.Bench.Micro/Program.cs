using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Microsoft.Data.Sqlite;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using Tributary.Core.Configuration;
using Tributary.Core;
using Tributary.Core.Queries;
using Tributary.Server.Demo;
using Tributary.Sources.Sql.Sqlite;

// TRIBUTARY_MICRO_SQLITE_MULTITHREAD=1 switches SQLite to multi-thread mode (no per-connection mutex) before anything
// opens a connection: a pooled connection is only ever used by one thread at a time, so the mutex is pure cost.
if (Environment.GetEnvironmentVariable("TRIBUTARY_MICRO_SQLITE_MULTITHREAD") == "1")
{
    SQLitePCL.Batteries_V2.Init();
    var rc = SQLitePCL.raw.sqlite3_config(SQLitePCL.raw.SQLITE_CONFIG_MULTITHREAD);
    Console.WriteLine($"sqlite3_config(SQLITE_CONFIG_MULTITHREAD) = {rc}");
}

// auth-cpu: the AuthPipeline variants timed by CPU time, not wall time (the cores are shared with other work).
if (args is ["auth-cpu", ..])
{
    await Tributary.Bench.Micro.AuthPipeline.MeasureCpuAsync(Console.Out);
    return;
}

// In process (no generated project: the repository's warnings-as-errors settings stay out of BenchmarkDotNet's way),
// short runs: two noisy cores make long runs no more exact.
var config = ManualConfig.Create(DefaultConfig.Instance)
    .AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(3).WithIterationCount(12).WithLaunchCount(1))
    .WithOptions(ConfigOptions.DisableOptimizationsValidator);
BenchmarkSwitcher.FromAssembly(typeof(Tributary.Bench.Micro.Demo).Assembly).Run(args, config);

namespace Tributary.Bench.Micro
{
    /// <summary>The demo database, created once per process in a temporary folder.</summary>
    public static class Demo
    {
        private static readonly Lazy<string> LazyPath = new(() =>
        {
            var dir = Path.Combine(Path.GetTempPath(), "tributary-micro");
            Directory.CreateDirectory(dir);
            var path = Path.Combine(dir, DemoShop.FileName);
            DemoShop.EnsureCreated(path);
            return path;
        });

        public static string DatabasePath => LazyPath.Value;

        public static string ConnectionString => new SqliteConnectionStringBuilder { DataSource = DatabasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = true }.ToString();

        public const string RowsSql = "SELECT * FROM orders ORDER BY id LIMIT 1000";
        public const string PointSql = "SELECT * FROM orders WHERE id = @id";
    }

    /// <summary>
    /// <see cref="IRowReader"/> over an ADO.NET <see cref="SqliteDataReader"/>, value by value as Tributary wrote rows
    /// before it read SQLite directly (IsDBNull, GetFieldType, then the typed getter: several P/Invokes per value).
    /// </summary>
    public sealed class DataReaderRows(SqliteDataReader reader) : IRowReader
    {
        public int FieldCount => reader.FieldCount;

        public string GetName(int ordinal) => reader.GetName(ordinal);

        public string GetTypeName(int ordinal) => reader.GetDataTypeName(ordinal);

        public ValueTask<bool> ReadAsync(CancellationToken cancellationToken) => new(reader.Read());

        public void WriteValue(int ordinal, Utf8JsonWriter json)
        {
            if (reader.IsDBNull(ordinal))
            {
                json.WriteNullValue();
                return;
            }

            var type = reader.GetFieldType(ordinal);
            if (type == typeof(long))
            {
                json.WriteNumberValue(reader.GetInt64(ordinal));
            }
            else if (type == typeof(double))
            {
                json.WriteNumberValue(reader.GetDouble(ordinal));
            }
            else if (type == typeof(byte[]))
            {
                json.WriteBase64StringValue(reader.GetFieldValue<byte[]>(ordinal));
            }
            else
            {
                json.WriteStringValue(reader.GetString(ordinal));
            }
        }
    }

    /// <summary>
    /// 1000 rows of <c>orders</c> from a <see cref="SqliteDataReader"/> to UTF-8 JSON: Tributary's compact writer against
    /// the same rows as an array of objects (streamed with Utf8JsonWriter, and materialised then serialised with
    /// System.Text.Json, as a generic server would). Each includes running the query.
    /// </summary>
    [MemoryDiagnoser]
    public class ResultWriting : IDisposable
    {
        private SqliteConnection _connection = null!;
        private SqliteSource _source = null!;
        private readonly ArrayBufferWriter<byte> _buffer = new(256 * 1024);

        [GlobalSetup]
        public void Setup()
        {
            _connection = new SqliteConnection(Demo.ConnectionString);
            _connection.Open();
            _source = new SqliteSource(new SourceConfig { Name = "shop", Kind = "sqlite", MaxRowsLimit = 10_000 }, Demo.DatabasePath);
        }

        [GlobalCleanup]
        public void Dispose()
        {
            _connection.Dispose();
            _source.DisposeAsync().AsTask().GetAwaiter().GetResult();
            GC.SuppressFinalize(this);
        }

        [Benchmark(Description = "read only (no JSON)")]
        public int ReadOnly()
        {
            using var command = new SqliteCommand(Demo.RowsSql, _connection);
            using var reader = command.ExecuteReader();
            var n = 0;
            while (reader.Read())
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    n += reader.IsDBNull(i) ? 0 : 1;
                    _ = reader.GetValue(i);
                }
            }

            return n;
        }

        [Benchmark(Baseline = true, Description = "QueryResultWriter over SqliteDataReader")]
        public int QueryResultWriterOverDataReader()
        {
            using var command = new SqliteCommand(Demo.RowsSql, _connection);
            using var reader = command.ExecuteReader();
            using var output = new PooledBufferWriter();
            using var writer = new QueryResultWriter(output, _ => "", Stopwatch.GetTimestamp());
            writer.WriteAsync(new DataReaderRows(reader), 0, 1000, long.MaxValue, CancellationToken.None).AsTask().GetAwaiter().GetResult();
            return output.WrittenSpan.Length;
        }

        /// <summary>Tributary's source as it is now: its own prepared-statement cache and row reader on SQLitePCL.</summary>
        [Benchmark(Description = "SqliteSource.QueryAsync (QueryResultWriter, raw rows)")]
        public async Task<int> SqliteSourceRows()
        {
            using var output = new PooledBufferWriter();
            using var writer = new QueryResultWriter(output, _ => "", Stopwatch.GetTimestamp());
            await _source.QueryAsync(new QueryRequest(Demo.RowsSql, [], 1000, 0), writer, CancellationToken.None);
            return output.WrittenSpan.Length;
        }

        [Benchmark(Description = "Utf8JsonWriter objects (streamed)")]
        public int Utf8JsonWriterObjects()
        {
            using var command = new SqliteCommand(Demo.RowsSql, _connection);
            using var reader = command.ExecuteReader();
            _buffer.Clear();
            using var json = new Utf8JsonWriter(_buffer);
            var names = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray();
            json.WriteStartArray();
            while (reader.Read())
            {
                json.WriteStartObject();
                for (var i = 0; i < names.Length; i++)
                {
                    json.WritePropertyName(names[i]);
                    if (reader.IsDBNull(i))
                    {
                        json.WriteNullValue();
                    }
                    else if (reader.GetFieldType(i) == typeof(long))
                    {
                        json.WriteNumberValue(reader.GetInt64(i));
                    }
                    else
                    {
                        json.WriteStringValue(reader.GetString(i));
                    }
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.Flush();
            return _buffer.WrittenCount;
        }

        /// <summary>The floor: SQLitePCL directly, one type probe per value, text copied as UTF-8 without decoding.</summary>
        [Benchmark(Description = "SQLitePCL raw -> compact (no ADO.NET)")]
        public int RawCompact()
        {
            var rc = SQLitePCL.raw.sqlite3_prepare_v2(_connection.Handle!, Demo.RowsSql, out var statement);
            if (rc != 0)
            {
                throw new InvalidOperationException($"prepare: {rc}");
            }

            using (statement)
            {
                _buffer.Clear();
                using var json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });
                var count = SQLitePCL.raw.sqlite3_column_count(statement);
                json.WriteStartObject();
                json.WriteStartArray("columns"u8);
                for (var i = 0; i < count; i++)
                {
                    json.WriteStartObject();
                    json.WriteString("name"u8, SQLitePCL.raw.sqlite3_column_name(statement, i).utf8_to_string());
                    json.WriteString("type"u8, SQLitePCL.raw.sqlite3_column_decltype(statement, i).utf8_to_string());
                    json.WriteEndObject();
                }

                json.WriteEndArray();
                json.WriteStartArray("rows"u8);
                while (SQLitePCL.raw.sqlite3_step(statement) == SQLitePCL.raw.SQLITE_ROW)
                {
                    json.WriteStartArray();
                    for (var i = 0; i < count; i++)
                    {
                        switch (SQLitePCL.raw.sqlite3_column_type(statement, i))
                        {
                            case SQLitePCL.raw.SQLITE_INTEGER: json.WriteNumberValue(SQLitePCL.raw.sqlite3_column_int64(statement, i)); break;
                            case SQLitePCL.raw.SQLITE_FLOAT: json.WriteNumberValue(SQLitePCL.raw.sqlite3_column_double(statement, i)); break;
                            case SQLitePCL.raw.SQLITE_TEXT: json.WriteStringValue(SQLitePCL.raw.sqlite3_column_blob(statement, i)); break;
                            case SQLitePCL.raw.SQLITE_BLOB: json.WriteBase64StringValue(SQLitePCL.raw.sqlite3_column_blob(statement, i)); break;
                            default: json.WriteNullValue(); break;
                        }
                    }

                    json.WriteEndArray();
                }

                json.WriteEndArray();
                json.WriteEndObject();
                json.Flush();
                return _buffer.WrittenCount;
            }
        }

        [Benchmark(Description = "System.Text.Json objects (materialised)")]
        public int SystemTextJsonObjects()
        {
            using var command = new SqliteCommand(Demo.RowsSql, _connection);
            using var reader = command.ExecuteReader();
            var rows = new List<Dictionary<string, object?>>(1000);
            while (reader.Read())
            {
                var row = new Dictionary<string, object?>(reader.FieldCount);
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    row[reader.GetName(i)] = reader.IsDBNull(i) ? null : reader.GetValue(i);
                }

                rows.Add(row);
            }

            return JsonSerializer.SerializeToUtf8Bytes(rows).Length;
        }
    }

    /// <summary>
    /// One point query in process: Tributary's <see cref="SqliteSource"/> (its own read-only connections and prepared
    /// statement cache on SQLitePCL, compact writer) against the plain Microsoft.Data.Sqlite path writing the same JSON.
    /// </summary>
    [MemoryDiagnoser]
    public class PointQuery : IAsyncDisposable
    {
        private SqliteSource _source = null!;
        private int _id;

        [GlobalSetup]
        public void Setup()
        {
            _source = new SqliteSource(new SourceConfig { Name = "shop", Kind = "sqlite" }, Demo.DatabasePath);
        }

        [GlobalCleanup]
        public async ValueTask DisposeAsync()
        {
            await _source.DisposeAsync();
            GC.SuppressFinalize(this);
        }

        private long NextId() => _id = _id % 60_000 + 1;

        [Benchmark(Baseline = true, Description = "Microsoft.Data.Sqlite (pooled) + QueryResultWriter")]
        public int Raw()
        {
            using var connection = new SqliteConnection(Demo.ConnectionString);
            connection.Open();
            using var command = new SqliteCommand(Demo.PointSql, connection);
            command.Parameters.AddWithValue("@id", NextId());
            using var reader = command.ExecuteReader();
            using var output = new PooledBufferWriter();
            using var writer = new QueryResultWriter(output, _ => "", Stopwatch.GetTimestamp());
            writer.WriteAsync(new DataReaderRows(reader), 0, 500, long.MaxValue, CancellationToken.None).AsTask().GetAwaiter().GetResult();
            return output.WrittenSpan.Length;
        }

        [Benchmark(Description = "SqliteSource.QueryAsync")]
        public async Task<int> Tributary()
        {
            using var output = new PooledBufferWriter();
            using var writer = new QueryResultWriter(output, _ => "", Stopwatch.GetTimestamp());
            await _source.QueryAsync(new QueryRequest(Demo.PointSql, [new QueryParameter("id", NextId())], 500, 0), writer, CancellationToken.None);
            return output.WrittenSpan.Length;
        }
    }

    /// <summary>
    /// What happens to a result after the source wrote it: Tributary's tool turns the JSON into a string (text content)
    /// and a parsed JsonElement (structuredContent), and the SDK serialises the CallToolResult into a JsonNode and then
    /// to UTF-8 with its own options (whose encoder escapes every quote in the text copy as \u0022).
    /// </summary>
    [MemoryDiagnoser]
    public class ResultEnvelope
    {
        private byte[] _json = null!;

        [Params(1, 1000)]
        public int Rows { get; set; }

        [GlobalSetup]
        public async Task Setup()
        {
            await using var source = new SqliteSource(new SourceConfig { Name = "shop", Kind = "sqlite" }, Demo.DatabasePath);
            using var output = new PooledBufferWriter();
            using var writer = new QueryResultWriter(output, _ => "", Stopwatch.GetTimestamp());
            await source.QueryAsync(new QueryRequest($"SELECT * FROM orders ORDER BY id LIMIT {Rows}", [], Rows, 0), writer, CancellationToken.None);
            _json = output.WrittenSpan.ToArray();
        }

        [Benchmark(Baseline = true, Description = "text + structuredContent (as now)")]
        public int TextAndStructured() => Send(new CallToolResult
        {
            Content = [new TextContentBlock { Text = Encoding.UTF8.GetString(_json) }],
            StructuredContent = JsonElement.Parse(_json),
        });

        [Benchmark(Description = "structuredContent + short text")]
        public int StructuredOnly() => Send(new CallToolResult
        {
            Content = [new TextContentBlock { Text = "see structuredContent" }],
            StructuredContent = JsonElement.Parse(_json),
        });

        [Benchmark(Description = "text only")]
        public int TextOnly() => Send(new CallToolResult
        {
            Content = [new TextContentBlock { Text = Encoding.UTF8.GetString(_json) }],
        });

        // The SDK's path: result -> JsonNode -> UTF-8 with McpJsonUtilities.DefaultOptions.
        private static int Send(CallToolResult result)
        {
            var node = JsonSerializer.SerializeToNode(result, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CallToolResult)));
            return JsonSerializer.SerializeToUtf8Bytes(node, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(System.Text.Json.Nodes.JsonNode))).Length;
        }
    }
}
