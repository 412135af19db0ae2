using Tributary.Core;
using Tributary.Core.Queries;
using Tributary.Testing;

namespace Tributary.Sources.Sql.Tests.Sqlite;

public sealed class SqliteQueryTests(SqliteSourceFixture fixture) : IClassFixture<SqliteSourceFixture>
{
    [Theory]
    [InlineData("INSERT INTO customers (email, name, country) VALUES ('x@example.com', 'X', 'US')")]
    [InlineData("UPDATE orders SET status = 'cancelled'")]
    [InlineData("DELETE FROM orders")]
    [InlineData("DROP TABLE orders")]
    [InlineData("CREATE TABLE evil (id INTEGER)")]
    [InlineData("PRAGMA writable_schema=1")]
    [InlineData("PRAGMA journal_mode=WAL")]
    [InlineData("ATTACH DATABASE '/tmp/tributary-evil.db' AS evil")]
    [InlineData("VACUUM INTO '/tmp/tributary-evil-copy.db'")]
    [InlineData("VACUUM")]
    [InlineData("SELECT load_extension('/tmp/evil.so')")]
    [InlineData("SELECT 1; DELETE FROM orders")]
    [InlineData("WITH doomed AS (SELECT id FROM orders LIMIT 5) DELETE FROM orders WHERE id IN (SELECT id FROM doomed)")]
    [InlineData("INSERT INTO customers (email, name, country) SELECT email || '.x', name, country FROM customers RETURNING id")]
    [InlineData("REINDEX")]
    [InlineData("ANALYZE")]
    [InlineData("BEGIN IMMEDIATE")]
    public async Task Writes_and_escapes_are_refused_and_the_database_is_unchanged(string sql)
    {
        var before = DemoDatabase.Hash(fixture.Path);

        var error = await Assert.ThrowsAsync<ToolException>(() => SqliteSourceFixture.QueryAsync(fixture.Source, sql));

        Assert.True(
            error.Message.Contains("read-only", StringComparison.Ordinal) || error.Message.Contains("exactly one statement", StringComparison.Ordinal),
            error.Message);
        Assert.Equal(before, DemoDatabase.Hash(fixture.Path));
        Assert.False(File.Exists("/tmp/tributary-evil-copy.db"));
        Assert.False(File.Exists("/tmp/tributary-evil.db"));
    }

    [Fact]
    public async Task Multiple_statements_are_refused_even_when_both_read()
    {
        var error = await Assert.ThrowsAsync<ToolException>(() => SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT 1; SELECT 2"));
        Assert.Contains("exactly one statement", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_trailing_semicolon_and_comment_are_one_statement()
    {
        var result = await SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT count(*) AS n FROM orders; -- all of them");
        Assert.Equal(60_000, result.GetProperty("rows")[0][0].GetInt64());
    }

    [Fact]
    public async Task Syntax_errors_carry_the_engine_message()
    {
        var error = await Assert.ThrowsAsync<ToolException>(() => SqliteSourceFixture.QueryAsync(fixture.Source, "SELEC * FROM orders"));
        Assert.Contains("near \"SELEC\": syntax error", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_tables_point_to_describe_schema()
    {
        var error = await Assert.ThrowsAsync<ToolException>(() => SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT * FROM order"));
        Assert.Contains("syntax error", error.Message, StringComparison.Ordinal);

        error = await Assert.ThrowsAsync<ToolException>(() => SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT * FROM ordrs"));
        Assert.Contains("no such table: ordrs", error.Message, StringComparison.Ordinal);
        Assert.Contains("describe_schema", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_runaway_query_is_cancelled_at_the_statement_timeout()
    {
        await using var source = fixture.Create(TimeSpan.FromMilliseconds(300));

        var error = await Assert.ThrowsAsync<ToolException>(() => SqliteSourceFixture.QueryAsync(
            source, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"));

        Assert.Contains("cancelled after 0.3 s", error.Message, StringComparison.Ordinal);
        // The pooled connection is usable again afterwards.
        var result = await SqliteSourceFixture.QueryAsync(source, "SELECT 42");
        Assert.Equal(42, result.GetProperty("rows")[0][0].GetInt64());
    }

    [Fact]
    public async Task Named_and_positional_parameters_are_bound_not_spliced()
    {
        var named = await SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT id, status FROM orders WHERE id = @id", parameters: new QueryParameter("id", 7L));
        var positional = await SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT id, '?' AS q FROM orders WHERE id = ? OR id = ?", parameters: [new(null, 7L), new(null, 8L)]);
        var injection = await SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT count(*) FROM customers WHERE email = :e", parameters: new QueryParameter("e", "' OR '1'='1"));

        Assert.Equal(7, named.GetProperty("rows")[0][0].GetInt64());
        Assert.Equal(2, positional.GetProperty("row_count").GetInt32());
        Assert.Equal("?", positional.GetProperty("rows")[0][1].GetString());
        Assert.Equal(0, injection.GetProperty("rows")[0][0].GetInt64());
    }

    [Fact]
    public async Task Missing_parameters_are_named()
    {
        var error = await Assert.ThrowsAsync<ToolException>(() => SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT * FROM orders WHERE id = @id AND status = @status", parameters: new QueryParameter("id", 1L)));
        Assert.Contains("parameter 'status' has no value", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pages_are_capped_with_a_truncated_flag_and_continue_at_the_offset()
    {
        var first = await SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT id FROM orders ORDER BY id", maxRows: 3);
        var second = await SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT id FROM orders ORDER BY id", maxRows: 3, offset: 3);
        var last = await SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT id FROM orders ORDER BY id", maxRows: 3, offset: 59_998);

        Assert.True(first.GetProperty("truncated").GetBoolean());
        Assert.Equal("cursor:3", first.GetProperty("next_cursor").GetString());
        Assert.Equal([1L, 2L, 3L], first.GetProperty("rows").EnumerateArray().Select(r => r[0].GetInt64()));
        Assert.Equal([4L, 5L, 6L], second.GetProperty("rows").EnumerateArray().Select(r => r[0].GetInt64()));
        Assert.False(last.GetProperty("truncated").GetBoolean());
        Assert.Equal(2, last.GetProperty("row_count").GetInt32());
        Assert.False(last.TryGetProperty("next_cursor", out _));
    }

    [Fact]
    public async Task A_page_ends_at_the_row_that_crosses_the_size_bound_and_continues_from_there()
    {
        const string Sql = "SELECT id, note FROM orders ORDER BY id";
        var all = await SqliteSourceFixture.QueryAsync(fixture.Source, new QueryRequest(Sql, [], 20, 0));
        var bounded = await SqliteSourceFixture.QueryAsync(fixture.Source, new QueryRequest(Sql, [], 20, 0, MaxBytes: 200));
        var rows = bounded.GetProperty("row_count").GetInt32();
        var rest = await SqliteSourceFixture.QueryAsync(fixture.Source, new QueryRequest(Sql, [], 20 - rows, rows));
        var tiny = await SqliteSourceFixture.QueryAsync(fixture.Source, new QueryRequest(Sql, [], 20, 0, MaxBytes: 1));

        Assert.InRange(rows, 2, 19);
        Assert.True(bounded.GetProperty("truncated").GetBoolean());
        Assert.Equal($"cursor:{rows}", bounded.GetProperty("next_cursor").GetString());
        var ids = bounded.GetProperty("rows").EnumerateArray().Concat(rest.GetProperty("rows").EnumerateArray()).Select(r => r[0].GetInt64());
        Assert.Equal(all.GetProperty("rows").EnumerateArray().Select(r => r[0].GetInt64()), ids);
        Assert.Equal(1, tiny.GetProperty("row_count").GetInt32());
    }

    [Fact]
    public async Task A_result_that_ends_exactly_at_the_row_cap_is_not_truncated()
    {
        var result = await SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT id FROM orders WHERE id <= 3", maxRows: 3);
        Assert.Equal(3, result.GetProperty("row_count").GetInt32());
        Assert.False(result.GetProperty("truncated").GetBoolean());
    }

    [Fact]
    public async Task Results_are_compact_columns_and_row_arrays_with_types()
    {
        var result = await SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT id, status, total_cents, shipped_at, 1.5 AS ratio FROM orders WHERE id = 1");

        var columns = result.GetProperty("columns").EnumerateArray().Select(c => (c.GetProperty("name").GetString(), c.GetProperty("type").GetString())).ToList();
        Assert.Equal(("id", "INTEGER"), columns[0]);
        Assert.Equal(("status", "TEXT"), columns[1]);
        var row = result.GetProperty("rows")[0];
        Assert.Equal(5, row.GetArrayLength());
        Assert.Equal(1.5, row[4].GetDouble());
        Assert.True(result.GetProperty("elapsed_ms").GetDouble() >= 0);
    }

    [Fact]
    public async Task Blobs_are_base64_and_invalid_utf8_text_is_replaced_not_fatal()
    {
        var result = await SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT x'0102' AS b, CAST(x'41ff42' AS TEXT) AS t, NULL AS n, 1e999 AS inf");

        var row = result.GetProperty("rows")[0];
        Assert.Equal("AQI=", row[0].GetString());
        Assert.Equal("A\uFFFDB", row[1].GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, row[2].ValueKind);
        Assert.Equal("Infinity", row[3].GetString());
        Assert.Equal(["BLOB", "TEXT", "", "REAL"], result.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("type").GetString()));
    }

    [Fact]
    public async Task A_cached_statement_is_rebound_for_each_call()
    {
        for (var id = 1L; id <= 3; id++)
        {
            var result = await SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT id FROM orders WHERE id = @id", parameters: new QueryParameter("id", id));
            Assert.Equal(id, result.GetProperty("rows")[0][0].GetInt64());
        }

        var error = await Assert.ThrowsAsync<ToolException>(() => SqliteSourceFixture.QueryAsync(fixture.Source, "SELECT id FROM orders WHERE id = @id"));
        Assert.Contains("parameter 'id' has no value", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_schema_change_by_another_program_shows_in_the_next_result()
    {
        await using var source = fixture.Create(TimeSpan.FromSeconds(10));
        var before = await SqliteSourceFixture.QueryAsync(source, "SELECT * FROM products WHERE id = 1");

        using (var writer = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DemoDatabase.Copy()}"))
        {
            // Alter a separate copy, then serve it: the source's cached statement must not reuse stale columns.
            writer.Open();
            using var alter = writer.CreateCommand();
            alter.CommandText = "ALTER TABLE products ADD COLUMN colour TEXT NOT NULL DEFAULT 'blue'";
            alter.ExecuteNonQuery();
            await using var altered = new Tributary.Sources.Sql.Sqlite.SqliteSource(new Core.Configuration.SourceConfig { Name = "shop", Kind = "sqlite" }, writer.DataSource);
            var first = await SqliteSourceFixture.QueryAsync(altered, "SELECT * FROM products WHERE id = 1");
            alter.CommandText = "ALTER TABLE products RENAME COLUMN colour TO color";
            alter.ExecuteNonQuery();
            var after = await SqliteSourceFixture.QueryAsync(altered, "SELECT * FROM products WHERE id = 1");

            Assert.Equal("colour", first.GetProperty("columns")[7].GetProperty("name").GetString());
            Assert.Equal("color", after.GetProperty("columns")[7].GetProperty("name").GetString());
            Assert.Equal("blue", after.GetProperty("rows")[0][7].GetString());
        }

        Assert.Equal(7, before.GetProperty("columns").GetArrayLength());
    }
}
