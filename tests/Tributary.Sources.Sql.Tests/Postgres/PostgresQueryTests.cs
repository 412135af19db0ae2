using System.Diagnostics;
using Tributary.Core;
using Tributary.Core.Queries;

namespace Tributary.Sources.Sql.Tests.Postgres;

public sealed class PostgresQueryTests(PostgresSourceFixture fixture) : IClassFixture<PostgresSourceFixture>
{
    private const string Fingerprint =
        "SELECT (SELECT md5(string_agg(o::text, ',' ORDER BY id)) FROM orders o) || (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace)::text";

    [Theory]
    [InlineData("COMMIT; DROP TABLE orders")]
    [InlineData("ROLLBACK; DELETE FROM orders")]
    [InlineData("SET TRANSACTION READ WRITE")]
    [InlineData("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")]
    [InlineData("BEGIN; DELETE FROM orders")]
    [InlineData("BEGIN")]
    [InlineData("WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d")]
    [InlineData("COPY (SELECT 1) TO PROGRAM 'touch /tmp/tributary-pg-escape'")]
    [InlineData("DO $$ BEGIN DELETE FROM orders; END $$")]
    [InlineData("CALL tributary_test_purge()")]
    [InlineData("LISTEN tributary_channel")]
    [InlineData("NOTIFY tributary_channel, 'hello'")]
    [InlineData("SELECT set_config('default_transaction_read_only', 'off', false)")]
    [InlineData("SELECT pg_catalog.\"set_config\"('default_transaction_read_only', 'off', false)")]
    [InlineData("SELECT pg_notify('tributary_channel', 'hello')")]
    [InlineData("SELECT pg_advisory_lock(42)")]
    [InlineData("SELECT * FROM orders WHERE id = 1 FOR UPDATE")]
    [InlineData("SELECT nextval('orders_id_seq')")]
    [InlineData("EXPLAIN ANALYZE DELETE FROM orders")]
    [InlineData("WITH u AS (UPDATE orders SET note = 'x' RETURNING id) SELECT * FROM u")]
    [InlineData("INSERT INTO customers (email, name, country) VALUES ('x@example.com', 'X', 'US')")]
    [InlineData("UPDATE orders SET status = 'cancelled'")]
    [InlineData("TRUNCATE orders CASCADE")]
    [InlineData("DROP TABLE orders CASCADE")]
    [InlineData("CREATE TABLE evil (id int)")]
    [InlineData("PREPARE evil AS DELETE FROM orders")]
    [InlineData("RESET ALL")]
    [InlineData("SELECT 1; SELECT 2")]
    [InlineData("SELECT 1 /* ; */ ; DELETE FROM orders")]
    [InlineData("SELECT lo_import('/etc/passwd')")]
    [InlineData("VALUES (1)) AS x; DELETE FROM orders; SELECT (1")]
    public async Task Read_only_escapes_are_tool_errors_and_change_nothing(string sql)
    {
        await fixture.Server.ExecuteAsync(fixture.ConnectionString, "CREATE OR REPLACE PROCEDURE tributary_test_purge() LANGUAGE sql AS $$ DELETE FROM order_items $$");
        var before = await fixture.ScalarAsync<string>(Fingerprint);

        await Assert.ThrowsAsync<ToolException>(() => fixture.QueryAsync(sql));

        Assert.Equal(before, await fixture.ScalarAsync<string>(Fingerprint));
        Assert.False(File.Exists("/tmp/tributary-pg-escape"));

        // The pooled connections stay as they were: read-only by default is off, no lock or listen survives.
        var state = await fixture.QueryAsync(
            "SELECT current_setting('default_transaction_read_only'), (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'), (SELECT count(*) FROM pg_listening_channels())");
        Assert.Equal("off", state.GetProperty("rows")[0][0].GetString());
        Assert.Equal(0, state.GetProperty("rows")[0][1].GetInt64());
        Assert.Equal(0, state.GetProperty("rows")[0][2].GetInt64());
        Assert.Equal(3, (await fixture.QueryAsync("SELECT 1, 2, 3")).GetProperty("columns").GetArrayLength());
    }

    [Fact]
    public async Task Values_keep_their_types()
    {
        var result = await fixture.QueryAsync("SELECT payload, tags, happened_at, uid, flag, amount, raw FROM audit_demo.events ORDER BY id");
        var rows = result.GetProperty("rows");
        Assert.Equal("login", rows[0][0].GetProperty("kind").GetString());
        Assert.Equal("ünïcode", rows[0][1][1].GetString());
        Assert.Equal("2024-02-29T12:34:56.789", rows[0][2].GetString());
        Assert.Equal("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", rows[0][3].GetString());
        Assert.True(rows[0][4].GetBoolean());
        Assert.Equal(3.14159, rows[0][5].GetDouble());
        Assert.Equal("3q2+7w==", rows[0][6].GetString());
        Assert.All(Enumerable.Range(0, 7), i => Assert.Equal(System.Text.Json.JsonValueKind.Null, rows[1][i].ValueKind));
        Assert.Equal("Infinity", rows[2][5].GetString());

        var order = (await fixture.QueryAsync("SELECT id, status, total, created_at FROM orders WHERE id = 7")).GetProperty("rows")[0];
        Assert.Equal("paid", order[1].GetString());
        Assert.Equal(554.33m, order[2].GetDecimal());
        Assert.Equal("2024-01-01T09:42:00Z", order[3].GetString());
        Assert.Equal("jsonb", result.GetProperty("columns")[0].GetProperty("type").GetString());
    }

    [Fact]
    public async Task Named_and_positional_parameters_are_bound_with_the_type_the_statement_needs()
    {
        var named = await fixture.QueryAsync(
            "SELECT count(*) FROM orders WHERE customer_id = @customer AND created_at >= @since AND status = @status",
            parameters: [new QueryParameter("customer", 3L), new QueryParameter("since", "2024-03-01T00:00:00Z"), new QueryParameter("status", "delivered")]);
        var direct = await fixture.ScalarAsync<long>(
            "SELECT count(*) FROM orders WHERE customer_id = 3 AND created_at >= '2024-03-01T00:00:00Z' AND status = 'delivered'");
        Assert.Equal(direct, named.GetProperty("rows")[0][0].GetInt64());

        var positional = await fixture.QueryAsync("SELECT name FROM customers WHERE id = $1", parameters: [new QueryParameter(null, 5L)]);
        Assert.Equal("Customer 5", positional.GetProperty("rows")[0][0].GetString());

        var injection = await fixture.QueryAsync("SELECT count(*) FROM customers WHERE email = @email", parameters: [new QueryParameter("email", "' OR '1'='1")]);
        Assert.Equal(0, injection.GetProperty("rows")[0][0].GetInt64());

        var missing = await Assert.ThrowsAsync<ToolException>(() => fixture.QueryAsync("SELECT @nope::int"));
        Assert.Contains("'nope'", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pages_are_cut_on_the_server_and_continue_from_the_offset()
    {
        var first = await fixture.QueryAsync("SELECT id FROM orders ORDER BY id", maxRows: 10);
        Assert.True(first.GetProperty("truncated").GetBoolean());
        Assert.Equal("cursor:10", first.GetProperty("next_cursor").GetString());
        var second = await fixture.QueryAsync("SELECT id FROM orders ORDER BY id", maxRows: 10, offset: 10);
        Assert.Equal(11, second.GetProperty("rows")[0][0].GetInt32());
        var last = await fixture.QueryAsync("SELECT id FROM orders ORDER BY id", maxRows: 10, offset: 4995);
        Assert.Equal(5, last.GetProperty("row_count").GetInt32());
        Assert.False(last.GetProperty("truncated").GetBoolean());

        var shown = await fixture.QueryAsync("SHOW server_version_num");
        Assert.Equal(1, shown.GetProperty("row_count").GetInt32());
    }

    [Fact]
    public async Task A_statement_past_the_timeout_is_cancelled_on_the_server()
    {
        await using var source = fixture.Create(TimeSpan.FromSeconds(1));
        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ToolException>(() =>
            PostgresSourceFixture.QueryAsync(source, new QueryRequest("SELECT pg_sleep(60) AS slept", [], 10, 0), CancellationToken.None));
        Assert.Contains("statement_timeout", error.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the timeout did not stop the statement");
        Assert.Equal(0, await fixture.ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60) AS slept%' AND pid <> pg_backend_pid()"));
    }

    [Fact]
    public async Task A_cancelled_request_cancels_the_statement_on_the_server()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            PostgresSourceFixture.QueryAsync(fixture.Source, new QueryRequest("SELECT pg_sleep(30) AS cancelled_sleep", [], 10, 0), cancel.Token));

        // The cancel request is asynchronous on the server: allow it a bounded moment to land.
        long running = -1;
        for (var attempt = 0; attempt < 50 && running != 0; attempt++)
        {
            running = await fixture.ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30) AS cancelled_sleep%' AND state = 'active' AND pid <> pg_backend_pid()");
            await Task.Delay(100);
        }

        Assert.Equal(0, running);
        Assert.Equal(1, (await fixture.QueryAsync("SELECT 1")).GetProperty("row_count").GetInt32());
    }

    [Fact]
    public async Task Schema_covers_keys_indexes_constraints_comments_views_and_enums_across_schemas()
    {
        var schema = await fixture.Source.DescribeAsync(null, CancellationToken.None);
        var orders = schema.Find("orders")!;
        Assert.Equal(["id"], orders.PrimaryKey);
        Assert.Contains(orders.ForeignKeys, f => f.ReferencesTable == "customers" && f.OnDelete == "CASCADE" && f.Columns.SequenceEqual(["customer_id"]));
        Assert.Contains(orders.Indexes, i => i.Name == "orders_customer_id_created_at_idx" && i.Columns.SequenceEqual(["customer_id", "created_at"]) && !i.Unique);
        Assert.Contains(orders.CheckConstraints, c => c.Expression.Contains("total >= 0", StringComparison.Ordinal));
        var status = orders.Columns.Single(c => c.Name == "status");
        Assert.Equal("order_status", status.Type);
        Assert.Equal("'pending'::order_status", status.Default);
        Assert.False(status.Nullable);
        Assert.Contains(schema.Enums!, e => e.Name == "order_status" && e.Values.SequenceEqual(["pending", "paid", "shipped", "delivered", "cancelled"]));

        var customers = schema.Find("customers")!;
        Assert.Equal("People who have an account with the shop.", customers.Comment);
        Assert.Equal("Login and contact address; unique.", customers.Columns.Single(c => c.Name == "email").Comment);
        Assert.Contains(customers.UniqueConstraints, u => u.Columns.SequenceEqual(["email"]));
        Assert.Equal("view", schema.Find("order_totals")!.Type);
        Assert.Equal(["order_id", "product_id"], schema.Find("order_items")!.PrimaryKey);
        Assert.Equal("bytea", schema.Find("audit_demo.events")!.Columns.Single(c => c.Name == "raw").Type);

        var one = await fixture.Source.DescribeAsync("audit_demo.events", CancellationToken.None);
        Assert.Single(one.Tables);
        var unknown = await Assert.ThrowsAsync<ToolException>(() => fixture.Source.DescribeAsync("nope", CancellationToken.None));
        Assert.Contains("orders", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_server_is_a_tool_error_without_connection_details()
    {
        await using var source = new Tributary.Sources.Sql.Postgres.PostgresSource(
            new Core.Configuration.SourceConfig { Name = "down", Kind = "postgres" },
            "Host=127.0.0.1;Port=1;Username=tributary;Password=hunter2-secret;Timeout=2",
            ["public"]);
        var error = await Assert.ThrowsAsync<ToolException>(() => PostgresSourceFixture.QueryAsync(source, new QueryRequest("SELECT 1", [], 1, 0), CancellationToken.None));
        Assert.Contains("unreachable", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A pooled connection the server has dropped (a restart, a failover, an administrator) fails on first use: a read is
    /// tried again on a fresh connection instead of failing the caller.
    /// </summary>
    [Fact]
    public async Task A_read_on_a_pooled_connection_the_server_dropped_is_retried_on_a_fresh_one()
    {
        await using var source = fixture.Create(TimeSpan.FromSeconds(10));
        Assert.Equal(1, (await PostgresSourceFixture.QueryAsync(source, new QueryRequest("SELECT 1", [], 10, 0), CancellationToken.None)).GetProperty("rows")[0][0].GetInt32());

        var terminated = await fixture.ScalarAsync<long>("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'shop' AND pid <> pg_backend_pid() AND backend_type = 'client backend') AS t");
        Assert.True(terminated >= 1);

        var again = await PostgresSourceFixture.QueryAsync(source, new QueryRequest("SELECT 2", [], 10, 0), CancellationToken.None);
        Assert.Equal(2, again.GetProperty("rows")[0][0].GetInt32());
    }
}
