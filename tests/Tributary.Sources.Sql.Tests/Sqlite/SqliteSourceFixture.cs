using System.Diagnostics;
using System.Text.Json;
using Tributary.Core.Configuration;
using Tributary.Core.Queries;
using Tributary.Sources.Sql.Sqlite;
using Tributary.Testing;

namespace Tributary.Sources.Sql.Tests.Sqlite;

/// <summary>A copy of the demo database served by a <see cref="SqliteSource"/>, with helpers to run queries.</summary>
public sealed class SqliteSourceFixture : IAsyncLifetime
{
    public string Path { get; } = DemoDatabase.Copy();

    public SqliteSource Source { get; private set; } = null!;

    public Task InitializeAsync()
    {
        Source = Create(TimeSpan.FromSeconds(10));
        return Task.CompletedTask;
    }

    public SqliteSource Create(TimeSpan statementTimeout) =>
        new(new SourceConfig { Name = "shop", Kind = "sqlite", StatementTimeout = statementTimeout }, Path);

    public static Task<JsonElement> QueryAsync(SqliteSource source, string sql, int maxRows = 100, int offset = 0, params QueryParameter[] parameters) =>
        QueryAsync(source, new QueryRequest(sql, parameters, maxRows, offset));

    public static async Task<JsonElement> QueryAsync(SqliteSource source, QueryRequest request)
    {
        using var output = new Core.PooledBufferWriter();
        using (var writer = new QueryResultWriter(output, next => $"cursor:{next}", Stopwatch.GetTimestamp()))
        {
            await source.QueryAsync(request, writer, CancellationToken.None);
        }

        return JsonElement.Parse(output.WrittenSpan);
    }

    public async Task DisposeAsync() => await Source.DisposeAsync();
}
