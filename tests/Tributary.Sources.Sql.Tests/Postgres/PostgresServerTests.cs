using Npgsql;
using Tributary.Testing;

namespace Tributary.Sources.Sql.Tests.Postgres;

public sealed class PostgresServerTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task Seeds_the_shop_with_the_expected_rows_and_enum_values()
    {
        var connectionString = await server.CreateDatabaseAsync();

        await PostgresShop.SeedAsync(server, connectionString);

        Assert.Equal(200L, await ScalarAsync<long>(connectionString, "SELECT count(*) FROM customers"));
        Assert.Equal(50L, await ScalarAsync<long>(connectionString, "SELECT count(*) FROM products"));
        Assert.Equal(5000L, await ScalarAsync<long>(connectionString, "SELECT count(*) FROM orders"));
        Assert.Equal(10001L, await ScalarAsync<long>(connectionString, "SELECT count(*) FROM order_items"));
        Assert.Equal(714L, await ScalarAsync<long>(connectionString, "SELECT count(*) FROM orders WHERE note IS NULL"));
        Assert.Equal(3L, await ScalarAsync<long>(connectionString, "SELECT count(*) FROM audit_demo.events"));
        Assert.Equal(200L, await ScalarAsync<long>(connectionString, "SELECT count(*) FROM order_totals"));
        Assert.Equal(
            ["pending", "paid", "shipped", "delivered", "cancelled"],
            await ScalarAsync<string[]>(connectionString, "SELECT enum_range(NULL::order_status)::text[]"));
        Assert.Equal(
            "cancelled=1000,delivered=1000,paid=1000,pending=1000,shipped=1000",
            await ScalarAsync<string>(connectionString, "SELECT string_agg(status || '=' || n, ',' ORDER BY status::text) FROM (SELECT status, count(*) AS n FROM orders GROUP BY status) s"));
    }

    [Fact]
    public async Task Stop_then_start_brings_the_server_back_on_the_same_port()
    {
        var connectionString = Unpooled(server.ConnectionString());
        var port = server.Port;
        Assert.Equal(1, await ScalarAsync<int>(connectionString, "SELECT 1"));

        await server.StopAsync();
        try
        {
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => ScalarAsync<int>(connectionString, "SELECT 1"));
        }
        finally
        {
            await server.StartAsync();
        }

        Assert.Equal(port, server.Port);
        Assert.Equal(2, await ScalarAsync<int>(connectionString, "SELECT 2"));
    }

    private static string Unpooled(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString;

    private static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
