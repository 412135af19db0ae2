using Npgsql;
using Tributary.Core.Configuration;
using Tributary.Server.Hosting;
using Tributary.Testing;

namespace Tributary.Server.Tests.Writes;

/// <summary>Tributary over HTTP in front of a real PostgreSQL holding the test shop, with writable orders and named tools.</summary>
public sealed class PostgresToolsServer : TributaryHttpServer
{
    public PostgresServer Postgres { get; } = new();

    public string ConnectionString { get; private set; } = "";

    public override async Task InitializeAsync()
    {
        await Postgres.InitializeAsync();
        ConnectionString = await Postgres.CreateDatabaseAsync("shop");
        await PostgresShop.SeedAsync(Postgres, ConnectionString);
        await base.InitializeAsync();
    }

    protected override Task<TributaryConfig> CreateConfigAsync()
    {
        var yaml = $$"""
            server:
              data_dir: {{DataDirectory}}
            sources:
              pg:
                kind: postgres
                description: The test shop on PostgreSQL
                connection_string: "{{ConnectionString}};Timeout=3"
                schemas: [public, audit_demo]
                statement_timeout: 5s
                writable: true
                tables:
                  orders:
                    version_column: version
                    columns:
                      status: {}
                      note: { max_length: 200 }
                  customers: {}
            tools:
              customer_orders:
                source: pg
                description: Orders of one customer since a time
                statement: SELECT id, status, total, created_at FROM orders WHERE customer_id = @customer_id AND created_at >= @since ORDER BY created_at DESC
                parameters:
                  customer_id: { type: integer, minimum: 1, required: true }
                  since: { type: string, format: date-time, default: "2020-01-01T00:00:00Z" }
              set_order_status:
                source: pg
                statement: UPDATE orders SET status = @status, version = version + 1 WHERE id = @order_id RETURNING id, status, version
                parameters:
                  order_id: { type: integer, minimum: 1, required: true }
                  status: { type: string, enum: [pending, paid, shipped, delivered, cancelled], required: true }
            """;
        return Task.FromResult(new ConfigLoader(SourceProviders.All).Load(yaml, DataDirectory));
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}
