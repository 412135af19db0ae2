using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using Tributary.Core.Configuration;
using Tributary.Core.Queries;
using Tributary.Sources.Sql.Postgres;
using Tributary.Testing;

namespace Tributary.Sources.Sql.Tests.Postgres;

/// <summary>A real PostgreSQL with the test shop, served by a <see cref="PostgresSource"/>.</summary>
public sealed class PostgresSourceFixture : IAsyncLifetime
{
    public PostgresServer Server { get; } = new();

    public string ConnectionString { get; private set; } = "";

    public PostgresSource Source { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Server.InitializeAsync();
        ConnectionString = await Server.CreateDatabaseAsync("shop");
        await PostgresShop.SeedAsync(Server, ConnectionString);
        Source = Create(TimeSpan.FromSeconds(10));
    }

    public PostgresSource Create(TimeSpan statementTimeout, string schemas = "public,audit_demo") =>
        new(new SourceConfig { Name = "pg", Kind = "postgres", StatementTimeout = statementTimeout }, ConnectionString, schemas.Split(','));

    public Task<JsonElement> QueryAsync(string sql, int maxRows = 100, int offset = 0, params QueryParameter[] parameters) =>
        QueryAsync(Source, new QueryRequest(sql, parameters, maxRows, offset), CancellationToken.None);

    public static async Task<JsonElement> QueryAsync(PostgresSource source, QueryRequest request, CancellationToken cancellationToken)
    {
        using var output = new Core.PooledBufferWriter();
        using (var writer = new QueryResultWriter(output, next => $"cursor:{next}", Stopwatch.GetTimestamp()))
        {
            await source.QueryAsync(request, writer, cancellationToken);
        }

        return JsonElement.Parse(output.WrittenSpan);
    }

    /// <summary>A value read straight through Npgsql, for comparing before and after.</summary>
    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public async Task DisposeAsync()
    {
        if (Source is not null)
        {
            await Source.DisposeAsync();
        }

        await Server.DisposeAsync();
    }
}
