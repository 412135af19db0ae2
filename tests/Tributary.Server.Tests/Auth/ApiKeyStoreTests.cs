using Microsoft.Data.Sqlite;
using Tributary.Server.Auth;
using Tributary.Testing;

namespace Tributary.Server.Tests.Auth;

/// <summary>The key store the server keeps open, against changes made through another connection (as <c>tributary keys</c> does from its own process).</summary>
public sealed class ApiKeyStoreTests
{
    [Fact]
    public void A_key_revoked_through_another_connection_is_refused_at_the_next_check_even_after_the_log_restarted()
    {
        var path = Path.Combine(TestPaths.NewTempDirectory(), "state.db");
        using var served = new ApiKeyStore(path);
        using var command = new ApiKeyStore(path);
        var (_, first) = command.Create("first", ["sources:shop:read"], null);
        var (_, second) = command.Create("second", ["sources:shop:read"], null);

        // Both are now cached by the serving store.
        Assert.Equal("first", served.Verify(first).Key?.Name);
        Assert.Equal("second", served.Verify(second).Key?.Name);

        Assert.True(command.Revoke("first"));
        Assert.Contains("revoked", served.Verify(first).Problem, StringComparison.Ordinal);
        Assert.Equal("second", served.Verify(second).Key?.Name);

        // The write-ahead log checkpointed and emptied, then written again from its start: still seen.
        Checkpoint(path);
        Assert.Equal("second", served.Verify(second).Key?.Name);
        Checkpoint(path);
        Assert.True(command.Revoke("second"));
        Assert.Contains("revoked", served.Verify(second).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Keys_of_the_wrong_shape_or_secret_are_refused_without_naming_the_part_that_was_wrong()
    {
        using var keys = new ApiKeyStore(Path.Combine(TestPaths.NewTempDirectory(), "state.db"));
        var (_, secret) = keys.Create("ci", ["sources:shop:read"], null);
        Assert.Equal("ci", keys.Verify(secret).Key?.Name);
        Assert.Equal("unknown API key", keys.Verify(secret[..^1] + (secret[^1] == 'A' ? 'B' : 'A')).Problem);
        Assert.Equal("unknown API key", keys.Verify("trib_000000000000_" + secret[(secret.LastIndexOf('_') + 1)..]).Problem);
        foreach (var shape in new[] { "", "trib_", "trib_nounderscore", "api_" + secret[5..], secret + new string('x', 200) })
        {
            Assert.StartsWith("not a Tributary API key", keys.Verify(shape).Problem, StringComparison.Ordinal);
        }
    }

    private static void Checkpoint(string path)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var checkpoint = connection.CreateCommand();
        checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
        using var reader = checkpoint.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal(0L, reader.GetInt64(0)); // not blocked: the log was emptied
    }
}
