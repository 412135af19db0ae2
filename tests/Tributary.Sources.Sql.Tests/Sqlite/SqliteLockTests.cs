using System.Diagnostics.Metrics;
using Microsoft.Data.Sqlite;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Sources;
using Tributary.Sources.Sql.Sqlite;

namespace Tributary.Sources.Sql.Tests.Sqlite;

/// <summary>Reads of a database another program keeps locked: waited for (<c>busy_timeout</c>), then tried again.</summary>
public sealed class SqliteLockTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"tributary-lock-{Guid.NewGuid():N}.db");
    private readonly SemaphoreSlim _retried = new(0);
    private readonly MeterListener _listener = new();
    private int _retries;

    public SqliteLockTests()
    {
        // A rollback-journal database: a writer's exclusive lock keeps every reader out until it ends.
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode = DELETE; CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO items (name) VALUES ('a'), ('b');";
        command.ExecuteNonQuery();

        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == SqlSourceMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag is { Key: "source", Value: string source } && source == SourceName)
                {
                    Interlocked.Add(ref _retries, (int)value);
                    _retried.Release();
                }
            }
        });
        _listener.Start();
    }

    private string SourceName { get; } = "locked-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task A_read_of_a_locked_database_is_tried_again_and_succeeds_once_the_lock_ends()
    {
        await using var source = Source("1s");
        using var writer = Open();
        using (var begin = writer.CreateCommand())
        {
            begin.CommandText = "BEGIN EXCLUSIVE";
            begin.ExecuteNonQuery();
        }

        var read = SqliteSourceFixture.QueryAsync(source, "SELECT name FROM items ORDER BY id");
        Assert.True(await _retried.WaitAsync(TimeSpan.FromSeconds(30)), "the locked read was never tried again");
        Assert.False(read.IsCompleted);
        using (var rollback = writer.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }

        var result = await read;

        Assert.Equal(["a", "b"], result.GetProperty("rows").EnumerateArray().Select(r => r[0].GetString()));
        Assert.InRange(_retries, 1, 2);
    }

    [Fact]
    public async Task A_database_locked_through_every_try_is_a_clear_error()
    {
        await using var source = Source("100ms");
        using var writer = Open();
        using var begin = writer.CreateCommand();
        begin.CommandText = "BEGIN EXCLUSIVE";
        begin.ExecuteNonQuery();

        var error = await Assert.ThrowsAsync<ToolException>(() => SqliteSourceFixture.QueryAsync(source, "SELECT name FROM items"));

        Assert.Contains($"source '{SourceName}' is locked by another program", error.Message, StringComparison.Ordinal);
        Assert.Contains("3 tries each waited 0.1 s (busy_timeout)", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, _retries);
    }

    [Fact]
    public async Task A_statement_error_is_not_tried_again()
    {
        await using var source = Source("100ms");

        var error = await Assert.ThrowsAsync<ToolException>(() => SqliteSourceFixture.QueryAsync(source, "SELECT missing FROM items"));

        Assert.Contains("no such column", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, _retries);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("-1s")]
    [InlineData("2m")]
    public void A_bad_busy_timeout_is_refused_at_start_up(string value)
    {
        var errors = new ConfigErrors();
        new SqliteProvider().Validate(Config(value), new SourceContext(Path.GetTempPath()), errors);

        var error = Assert.Single(errors.All);
        Assert.Equal("sources.shop.busy_timeout", error.Path);
        Assert.Contains($"'{value}' is not a duration from 0s to 1m", error.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _listener.Dispose();
        SqliteConnection.ClearAllPools();
        File.Delete(_path);
    }

    private SqliteSource Source(string busyTimeout) => new(Config(busyTimeout) with { Name = SourceName }, _path);

    private SourceConfig Config(string busyTimeout) => new()
    {
        Name = "shop",
        Kind = "sqlite",
        Settings = new Dictionary<string, string> { ["path"] = _path, ["busy_timeout"] = busyTimeout },
    };

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = _path, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }
}
