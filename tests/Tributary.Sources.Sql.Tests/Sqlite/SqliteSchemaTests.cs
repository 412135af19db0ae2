using Tributary.Core;

namespace Tributary.Sources.Sql.Tests.Sqlite;

public sealed class SqliteSchemaTests(SqliteSourceFixture fixture) : IClassFixture<SqliteSourceFixture>
{
    [Fact]
    public async Task Describes_tables_views_keys_indexes_and_constraints()
    {
        var schema = await fixture.Source.DescribeAsync(null, CancellationToken.None);

        Assert.Equal(["app_logs", "customers", "demo_meta", "order_items", "order_summaries", "orders", "products"], schema.Tables.Select(t => t.Name));
        Assert.Equal("view", schema.Tables.Single(t => t.Name == "order_summaries").Type);

        var orders = schema.Tables.Single(t => t.Name == "orders");
        Assert.Equal(["id"], orders.PrimaryKey);
        var id = orders.Columns.Single(c => c.Name == "id");
        Assert.True(id.PrimaryKey);
        Assert.False(id.Nullable);
        Assert.True(orders.Columns.Single(c => c.Name == "shipped_at").Nullable);
        Assert.Equal("'USD'", orders.Columns.Single(c => c.Name == "currency").Default);
        var customerKey = Assert.Single(orders.ForeignKeys);
        Assert.Equal(("customers", "customer_id", "id"), (customerKey.ReferencesTable, customerKey.Columns[0], customerKey.ReferencesColumns[0]));
        Assert.Contains(orders.Indexes, i => i.Name == "idx_orders_status_created_at" && i.Columns.SequenceEqual(["status", "created_at"]) && !i.Unique);
        Assert.Contains(orders.CheckConstraints, c => c.Expression.Contains("'pending'", StringComparison.Ordinal));

        var items = schema.Tables.Single(t => t.Name == "order_items");
        Assert.Contains(items.UniqueConstraints, u => u.Columns.SequenceEqual(["order_id", "product_id"]));
        Assert.Equal(2, items.ForeignKeys.Count);
        Assert.Contains(items.ForeignKeys, f => f.ReferencesTable == "orders" && f.OnDelete == "CASCADE");

        var customers = schema.Tables.Single(t => t.Name == "customers");
        Assert.Contains(customers.Indexes, i => i.Unique && i.Columns.SequenceEqual(["email"]));
    }

    [Fact]
    public async Task Describes_one_table_case_insensitively()
    {
        var schema = await fixture.Source.DescribeAsync("Products", CancellationToken.None);
        Assert.Equal("products", Assert.Single(schema.Tables).Name);
    }

    [Fact]
    public async Task An_unknown_table_lists_the_valid_ones()
    {
        var error = await Assert.ThrowsAsync<ToolException>(() => fixture.Source.DescribeAsync("ordrs", CancellationToken.None));
        Assert.Contains("no table or view 'ordrs'", error.Message, StringComparison.Ordinal);
        Assert.Contains("orders", error.Message, StringComparison.Ordinal);
        Assert.Contains("customers", error.Message, StringComparison.Ordinal);
    }
}
