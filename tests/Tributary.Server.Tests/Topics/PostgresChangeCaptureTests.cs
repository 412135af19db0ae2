using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Client;
using Npgsql;
using Tributary.Core.Configuration;
using Tributary.Server.Capture;
using Tributary.Server.Tests.Mcp;
using Tributary.Testing;
using Tributary.Topics;
using static Tributary.Server.Tests.Topics.TopicReading;

namespace Tributary.Server.Tests.Topics;

/// <summary>Tributary capturing the changes of a PostgreSQL database into the topic <c>orders</c>; <paramref name="settings"/> adds keys to the source (one line).</summary>
public sealed class PostgresCaptureServer(string connectionString, string dataDirectory, string captures, string settings = "") : TributaryHttpServer("(no sqlite file)", dataDirectory)
{
    /// <summary>Given in every connection string: the logs must never show it.</summary>
    public const string Password = "never-shown-7c1d";

    protected override Task<TributaryConfig> CreateConfigAsync() => FromYaml($$"""
        sources:
          pg:
            kind: postgres
            connection_string: "{{connectionString}};Password={{Password}};Timeout=3"
            capture: {{captures}}
            {{settings}}
        topics:
          orders: { description: Changes of orders }
        """);
}

public sealed class PostgresChangeCaptureTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    private const string Listener = "tributary-capture-pg";

    // The application writes as its own role, which has no rights on Tributary's change table.
    private const string Shop = """
        CREATE TABLE orders (id serial PRIMARY KEY, status text NOT NULL, note text, version int NOT NULL DEFAULT 1);
        DO $$ BEGIN CREATE ROLE app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
        GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO app;
        GRANT USAGE ON SEQUENCE orders_id_seq TO app;
        """;

    private const string AllOperations = "{ orders: { topic: orders } }";

    [Fact]
    public async Task Changes_by_any_role_become_events_once_across_a_restart_and_a_new_configuration_and_the_change_table_is_pruned()
    {
        var database = await NewDatabaseAsync();
        var data = TestPaths.NewTempDirectory();
        var first = new PostgresCaptureServer(database, data, "{ orders: { topic: orders, operations: [insert, update], columns: [id, status, version] } }");
        try
        {
            await StartAsync(first, database);
            await using var client = await first.ConnectAsync();
            await AsAppAsync(database, """
                BEGIN;
                INSERT INTO orders (status, note) VALUES ('pending', 'a'), ('pending', 'b');
                UPDATE orders SET status = 'paid', version = version + 1 WHERE id = 1;
                COMMIT;
                DELETE FROM orders WHERE id = 2;
                """);
            var events = await SettleAsync(client, "orders", () => AsAppAsync(database, "INSERT INTO orders (status) VALUES ('marker-1')"), Inserted("marker-1"));
            Assert.Equal(["orders.insert", "orders.insert", "orders.update", "orders.insert"], events.Select(Type));
            var update = events[2].GetProperty("data");
            Assert.Equal(("orders", "update"), (update.GetProperty("table").GetString(), update.GetProperty("op").GetString()));
            Assert.Equal("""{"id":1,"status":"paid","version":2}""", Row(events[2]).GetRawText().Replace(" ", "", StringComparison.Ordinal));
            Assert.Equal(("capture:pg", "info"), (events[0].GetProperty("source").GetString(), events[0].GetProperty("severity").GetString()));
            Assert.Equal(events[0].GetProperty("data").GetProperty("txid").GetInt64(), update.GetProperty("txid").GetInt64());
            Assert.True(DateTimeOffset.TryParse(update.GetProperty("at").GetString(), out _));
            Assert.Equal(4, events.Select(e => e.GetProperty("data").GetProperty("change_id").GetInt64()).Distinct().Count());

            // Delivered changes are deleted from the change table.
            await WaitUntilAsync(async () => await ScalarAsync<long>(database, "SELECT count(*) FROM tributary_changes") == 0, "the change table to be pruned");
        }
        finally
        {
            await first.DisposeAsync();
        }

        // While Tributary is down the triggers still write: this update arrives after the restart, and nothing is repeated.
        await AsAppAsync(database, "UPDATE orders SET status = 'shipped', version = version + 1 WHERE id = 1");
        await using var second = new PostgresCaptureServer(database, data, "{ orders: { topic: orders, operations: [insert, delete], columns: [id, status, version] } }");
        await second.InitializeAsync();
        await using var again = await second.ConnectAsync();
        var afterRestart = await WaitForEventsAsync(again, "orders", 5);
        Assert.Equal("shipped", Row(afterRestart[4]).GetProperty("status").GetString());

        // The new configuration: no update trigger any more, a delete trigger instead.
        Assert.Equal("tributary_delete,tributary_insert", await ScalarAsync<string>(database, "SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'orders'::regclass"));
        await AsAppAsync(database, "UPDATE orders SET status = 'not captured' WHERE id = 1; DELETE FROM orders WHERE id = 3");
        var all = await SettleAsync(again, "orders", () => AsAppAsync(database, "INSERT INTO orders (status) VALUES ('marker-2')"), Inserted("marker-2"));
        Assert.Equal(["orders.insert", "orders.insert", "orders.update", "orders.insert", "orders.update", "orders.delete", "orders.insert"], all.Select(Type));
        Assert.Equal("marker-1", Row(all[5]).GetProperty("status").GetString());
        Assert.Equal(7, all.Select(e => e.GetProperty("data").GetProperty("change_id").GetInt64()).Distinct().Count());
        Assert.DoesNotContain("Change capture", second.Logs.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_change_with_a_lower_id_that_commits_after_a_higher_one_was_read_is_not_lost()
    {
        var database = await NewDatabaseAsync();
        await using var server = new PostgresCaptureServer(database, TestPaths.NewTempDirectory(), AllOperations);
        await StartAsync(server, database);
        await using var client = await server.ConnectAsync();
        await using var early = await OpenAsync(database);
        await using var late = await OpenAsync(database);

        // 'early' takes id 1 and stays open; 'late' takes id 2 and commits first.
        await ExecuteAsync(early, "BEGIN; INSERT INTO orders (status) VALUES ('early')");
        await ExecuteAsync(late, "INSERT INTO orders (status) VALUES ('late')");
        var committed = await ScalarAsync<DateTime>(late, "SELECT clock_timestamp()");

        // Once the capture has run a read that started after 'late' committed, a reader going by ids alone would have
        // taken id 2 and then skipped id 1 for good. This one holds id 2 back while an older transaction is open.
        await WaitUntilAsync(
            async () => await ScalarAsync<bool>(late, $"SELECT coalesce(bool_or(state = 'idle' AND query_start > '{committed:O}'::timestamptz), false) FROM pg_stat_activity WHERE application_name = '{Listener}'"),
            "a read by the capture after the later transaction committed");
        Assert.Empty(await ReadAllAsync(client, "orders"));

        await ExecuteAsync(early, "COMMIT");
        var events = await WaitForEventsAsync(client, "orders", 2);
        Assert.Equal(["early", "late"], events.Select(e => Row(e).GetProperty("status").GetString()));
        Assert.Equal([1L, 2L], events.Select(e => e.GetProperty("data").GetProperty("change_id").GetInt64()));
    }

    [Fact]
    public async Task A_transaction_larger_than_a_read_batch_arrives_whole_in_order_and_is_pruned()
    {
        await using var run = await CaptureRun.StartAsync(this);
        await AsAppAsync(run.Database, "INSERT INTO orders (status) SELECT 'bulk-' || n FROM generate_series(1, 1234) AS n");
        var events = await SettleAsync(run.Client, "orders", () => AsAppAsync(run.Database, "INSERT INTO orders (status) VALUES ('marker')"), Inserted("marker"), seconds: 60);
        Assert.Equal(1235, events.Count);
        Assert.Equal(Enumerable.Range(1, 1234).Select(n => $"bulk-{n}"), events.Take(1234).Select(e => Row(e).GetProperty("status").GetString()));
        Assert.Equal(Enumerable.Range(1, 1235).Select(n => (long)n), events.Select(e => e.GetProperty("data").GetProperty("change_id").GetInt64()));
        await WaitUntilAsync(async () => await ScalarAsync<long>(run.Database, "SELECT count(*) FROM tributary_changes") == 0, "the change table to be pruned");
    }

    [Fact]
    public async Task A_dropped_listening_connection_reconnects_and_the_changes_made_meanwhile_arrive_once()
    {
        await using var run = await CaptureRun.StartAsync(this);
        var (database, server, client) = (run.Database, run.Server, run.Client);
        await AsAppAsync(database, "INSERT INTO orders (status) VALUES ('before')");
        Assert.Single(await WaitForEventsAsync(client, "orders", 1));

        Assert.Equal(1L, await ScalarAsync<long>(database, $"SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '{Listener}'"));
        await AsAppAsync(database, "INSERT INTO orders (status) VALUES ('while-gone-1'), ('while-gone-2'); UPDATE orders SET status = 'while-gone-3' WHERE id = 1");

        var events = await SettleAsync(client, "orders", () => AsAppAsync(database, "INSERT INTO orders (status) VALUES ('marker')"), Inserted("marker"));
        Assert.Equal(["before", "while-gone-1", "while-gone-2", "while-gone-3", "marker"], events.Select(e => Row(e).GetProperty("status").GetString()));
        Assert.Contains(server.Logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("Change capture of source pg stopped", StringComparison.Ordinal));
        Assert.DoesNotContain(PostgresCaptureServer.Password, server.Logs.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostgreSQL_stopped_and_started_again_loses_no_change_and_repeats_none()
    {
        await using var run = await CaptureRun.StartAsync(this);
        var (database, server, client) = (run.Database, run.Server, run.Client);
        await AsAppAsync(database, "INSERT INTO orders (status) VALUES ('before')");
        Assert.Single(await WaitForEventsAsync(client, "orders", 1));

        try
        {
            await postgres.StopAsync();
            await WaitUntilAsync(() => Task.FromResult(server.Logs.Lines.Any(l => l.Contains("Change capture of source pg stopped", StringComparison.Ordinal))), "the capture to notice the outage");
        }
        finally
        {
            await postgres.StartAsync();
        }

        await AsAppAsync(database, "INSERT INTO orders (status) VALUES ('after-1'); INSERT INTO orders (status) VALUES ('after-2')");
        var events = await SettleAsync(client, "orders", () => AsAppAsync(database, "INSERT INTO orders (status) VALUES ('marker')"), Inserted("marker"), seconds: 90);
        Assert.Equal(["before", "after-1", "after-2", "marker"], events.Select(e => Row(e).GetProperty("status").GetString()));
        Assert.DoesNotContain(PostgresCaptureServer.Password, server.Logs.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_tables_and_rights_are_logged_with_what_to_grant_and_capture_starts_once_they_are_there()
    {
        var database = await NewDatabaseAsync();
        await postgres.ExecuteAsync(database, "DO $$ BEGIN CREATE ROLE capturer LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
        var asCapturer = new NpgsqlConnectionStringBuilder(database) { Username = "capturer" }.ConnectionString;
        const string Captures = "{ orders: { topic: orders }, ghosts: { topic: orders } }";
        var data = TestPaths.NewTempDirectory();
        var first = new PostgresCaptureServer(asCapturer, data, Captures);
        try
        {
            await first.InitializeAsync();
            await using var client = await first.ConnectAsync();
            await WaitUntilAsync(() => Task.FromResult(first.Logs.Lines.Any(l => l.Contains("cannot start", StringComparison.Ordinal))), "the capture's set-up error");
            var error = first.Logs.Lines.First(l => l.Contains("cannot start", StringComparison.Ordinal));
            Assert.StartsWith("Error", error, StringComparison.Ordinal);
            Assert.Contains("table 'ghosts' does not exist in schema 'public'", error, StringComparison.Ordinal);
            Assert.Contains("role 'capturer' lacks CREATE on schema 'public'", error, StringComparison.Ordinal);
            Assert.Contains("role 'capturer' lacks TRIGGER on table 'orders': GRANT TRIGGER ON \"public\".\"orders\" TO \"capturer\"", error, StringComparison.Ordinal);
            Assert.DoesNotContain(PostgresCaptureServer.Password, first.Logs.ToString(), StringComparison.Ordinal);

            // The rest of Tributary serves meanwhile.
            await client.CallOkAsync("query", new() { ["source"] = "pg", ["sql"] = "SELECT 1" });

            // The operator creates the table and grants the rights: capture starts without a restart.
            await postgres.ExecuteAsync(database, """
                CREATE TABLE ghosts (id serial PRIMARY KEY, name text);
                GRANT CREATE ON SCHEMA public TO capturer;
                GRANT TRIGGER ON orders, ghosts TO capturer;
                """);
            await WaitUntilAsync(async () => await ScalarAsync<long>(database, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'tributary%'") == 6, "the triggers", seconds: 60);
            await AsAppAsync(database, "INSERT INTO orders (status) VALUES ('captured')");
            await postgres.ExecuteAsync(database, "INSERT INTO ghosts (name) VALUES ('boo')");
            Assert.Equal(["orders.insert", "ghosts.insert"], (await WaitForEventsAsync(client, "orders", 2)).Select(Type));
        }
        finally
        {
            await first.DisposeAsync();
        }

        // With everything in place, a restart changes nothing in the database, so it needs neither right any more.
        await postgres.ExecuteAsync(database, "REVOKE CREATE ON SCHEMA public FROM capturer; REVOKE TRIGGER ON orders, ghosts FROM capturer");
        await using var second = new PostgresCaptureServer(asCapturer, data, Captures);
        await second.InitializeAsync();
        await using var again = await second.ConnectAsync();
        await AsAppAsync(database, "UPDATE orders SET status = 'again' WHERE status = 'captured'");
        Assert.Equal("orders.update", Type((await WaitForEventsAsync(again, "orders", 3))[2]));
        Assert.DoesNotContain("cannot start", second.Logs.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Installers_that_start_at_once_wait_for_each_other()
    {
        var database = await NewDatabaseAsync();
        var source = new SourceConfig
        {
            Name = "pg",
            Kind = "postgres",
            Captures = [new CaptureConfig { Table = "orders", Topic = "orders" }],
        };
        await using var store = new SqliteEventStore(Path.Combine(TestPaths.NewTempDirectory(), "events.db"), new EventBus());
        var installers = new List<(PostgresChangeCapture Capture, NpgsqlConnection Connection)>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                installers.Add((new PostgresChangeCapture(source, database, "public", store, NullLogger<PostgresChangeCapture>.Instance), await OpenAsync(database)));
            }

            // Without the advisory lock, all four would find no change table and all create it: all but one would fail.
            await Task.WhenAll(installers.Select(i => Task.Run(() => i.Capture.InstallAsync(i.Connection, CancellationToken.None))));
            Assert.Equal("tributary_delete,tributary_insert,tributary_update", await ScalarAsync<string>(database, "SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'orders'::regclass"));
        }
        finally
        {
            foreach (var (capture, connection) in installers)
            {
                capture.Dispose();
                await connection.DisposeAsync();
            }
        }
    }

    /// <summary>A fresh database captured by a started server, and a client of it.</summary>
    private sealed class CaptureRun(string database, PostgresCaptureServer server, McpClient client) : IAsyncDisposable
    {
        public string Database => database;

        public PostgresCaptureServer Server => server;

        public McpClient Client => client;

        public static async Task<CaptureRun> StartAsync(PostgresChangeCaptureTests tests)
        {
            var database = await tests.NewDatabaseAsync();
            var server = new PostgresCaptureServer(database, TestPaths.NewTempDirectory(), AllOperations);
            await PostgresChangeCaptureTests.StartAsync(server, database);
            return new CaptureRun(database, server, await server.ConnectAsync());
        }

        public async ValueTask DisposeAsync()
        {
            await client.DisposeAsync();
            await server.DisposeAsync();
        }
    }

    /// <summary>Starts the server and waits for its triggers: they are installed once the host runs, and changes before that are not captured.</summary>
    internal static async Task StartAsync(PostgresCaptureServer server, string database)
    {
        await server.InitializeAsync();
        await WaitUntilAsync(async () => await ScalarAsync<long>(database, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'tributary%'") > 0, "the capture's triggers");
    }

    private static Func<JsonElement, bool> Inserted(string status) =>
        e => Type(e) == "orders.insert" && Row(e).GetProperty("status").GetString() == status;

    private async Task<string> NewDatabaseAsync()
    {
        var database = await postgres.CreateDatabaseAsync();
        await postgres.ExecuteAsync(database, Shop);
        return database;
    }

    private Task AsAppAsync(string database, string sql) =>
        postgres.ExecuteAsync(new NpgsqlConnectionStringBuilder(database) { Username = "app" }.ConnectionString, sql);

    private static async Task<NpgsqlConnection> OpenAsync(string database)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    private static async Task<T> ScalarAsync<T>(string database, string sql)
    {
        await using var connection = await OpenAsync(database);
        return await ScalarAsync<T>(connection, sql);
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
