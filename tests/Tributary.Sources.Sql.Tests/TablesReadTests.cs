using Tributary.Core;
using Tributary.Core.Queries;
using Tributary.Core.Sources;
using Tributary.Sources.Sql.Tests.Postgres;
using Tributary.Sources.Sql.Tests.Sqlite;

namespace Tributary.Sources.Sql.Tests;

public sealed class SqliteTablesReadTests(SqliteSourceFixture fixture) : IClassFixture<SqliteSourceFixture>
{
    [Theory]
    [InlineData("SELECT count(*) FROM orders", "orders")]
    [InlineData("SELECT * FROM order_summaries WHERE order_id = 1", "customers,order_items,order_summaries,orders")]
    [InlineData("WITH big AS (SELECT customer_id FROM Orders WHERE total_cents > @min) SELECT email FROM customers WHERE id IN (SELECT customer_id FROM big)", "customers,orders")]
    [InlineData("SELECT 1 + 1", "")]
    public async Task The_authorizer_names_the_tables_a_statement_reads_views_resolved(string sql, string expected) =>
        Assert.Equal(expected, string.Join(',', (await ((ITableReads)fixture.Source).TablesReadAsync(new QueryRequest(sql, [], 10, 0), CancellationToken.None))!.Order(StringComparer.Ordinal)));

    [Fact]
    public async Task A_statement_the_source_refuses_is_the_query_error() =>
        Assert.Contains("no such table", (await Assert.ThrowsAsync<ToolException>(() => fixture.Source.TablesReadAsync(new QueryRequest("SELECT * FROM nowhere", [], 10, 0), CancellationToken.None))).Message, StringComparison.Ordinal);
}

public sealed class PostgresTablesReadTests(PostgresSourceFixture fixture) : IClassFixture<PostgresSourceFixture>
{
    [Theory]
    [InlineData("SELECT count(*) FROM orders", "orders")]
    [InlineData("SELECT * FROM order_totals", "orders")]
    [InlineData("SELECT c.email, e.flag FROM customers c JOIN audit_demo.events e ON true WHERE c.id = @id", "audit_demo.events,customers")]
    [InlineData("SELECT 1 + 1", "")]
    [InlineData("SELECT n, count(o.id) FROM generate_series(1, 3) AS n LEFT JOIN orders o ON o.id = n GROUP BY n", "orders")]
    public async Task The_plan_names_the_tables_a_statement_reads_views_resolved(string sql, string expected) =>
        Assert.Equal(expected, string.Join(',', (await Read(sql))!.Order(StringComparer.Ordinal)));

    [Theory]
    [InlineData("SELECT * FROM customers WHERE id = (SELECT count(*) FROM no_such_table)")]
    [InlineData("SHOW server_version")]
    public async Task What_the_plan_cannot_show_is_unknown(string sql) => Assert.Null(await Read(sql));

    [Fact]
    public async Task A_function_of_the_database_s_own_in_from_is_unknown()
    {
        await fixture.Server.ExecuteAsync(fixture.ConnectionString, "CREATE OR REPLACE FUNCTION big_orders() RETURNS SETOF orders LANGUAGE sql AS 'SELECT * FROM orders WHERE total > 100'");
        Assert.Null(await Read("SELECT count(*) FROM big_orders()"));
    }

    private Task<IReadOnlyCollection<string>?> Read(string sql) =>
        fixture.Source.TablesReadAsync(new QueryRequest(sql, sql.Contains("@id", StringComparison.Ordinal) ? [new QueryParameter("id", 1L)] : [], 10, 0), CancellationToken.None);
}
