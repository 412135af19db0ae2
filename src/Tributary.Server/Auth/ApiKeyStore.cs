using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Tributary.Server.Auth;

/// <summary>
/// API keys in Tributary's state store (<c>state.db</c>): each key is <c>trib_&lt;id&gt;_&lt;secret&gt;</c> with 256 random
/// bits of secret, shown once at creation and kept only as a SHA-256 hash. Verification compares hashes in constant time.
/// Keys are cached in memory, and the cache is dropped whenever the store's write-ahead log changes (every commit, by any
/// process, such as <c>tributary keys revoke</c>, changes it), so a revocation takes effect at the next request.
/// </summary>
public sealed class ApiKeyStore : IDisposable
{
    /// <summary>Every key starts with this.</summary>
    public const string Prefix = "trib_";

    private const string Schema = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE IF NOT EXISTS api_keys (
            id          TEXT PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            secret_hash BLOB NOT NULL,
            scopes      TEXT NOT NULL,
            created_at  INTEGER NOT NULL,
            expires_at  INTEGER,
            revoked_at  INTEGER
        ) WITHOUT ROWID;
        """;

    private readonly SqliteConnection _connection;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ApiKey> _cache = new(StringComparer.Ordinal);
    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _wal;
    private (DateTime Written, long Length) _walStamp;

    /// <summary>Opens (or creates) the key table in the state store at <paramref name="path"/>.</summary>
    public ApiKeyStore(string path, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _time = time ?? TimeProvider.System;
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false, DefaultTimeout = 5 }.ToString());
        _connection.Open();
        using var command = _connection.CreateCommand();
        command.CommandText = Schema + "PRAGMA busy_timeout = 5000;";
        command.ExecuteNonQuery();
        // The write-ahead log lives as long as this connection is open: every commit, by any process, changes it.
        _wal = File.OpenHandle(Path.GetFullPath(path) + "-wal", FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
    }

    /// <summary>Creates a key; the returned text is the only time the whole key exists outside the caller.</summary>
    public (ApiKey Key, string Secret) Create(string name, IReadOnlyList<string> scopes, TimeSpan? lifetime)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        var now = _time.GetUtcNow();
        var key = new ApiKey(id, name, [.. scopes], now, lifetime is { } l ? now + l : null, null);
        lock (_lock)
        {
            using var insert = Command(
                "INSERT INTO api_keys (id, name, secret_hash, scopes, created_at, expires_at) VALUES ($id, $name, $hash, $scopes, $created, $expires)",
                ("$id", id), ("$name", name), ("$hash", Hash(secret)), ("$scopes", string.Join(' ', scopes)),
                ("$created", now.ToUnixTimeSeconds()), ("$expires", key.ExpiresAt?.ToUnixTimeSeconds()));
            try
            {
                insert.ExecuteNonQuery();
            }
            catch (SqliteException e) when (e.SqliteErrorCode == 19)
            {
                throw new InvalidOperationException($"a key named '{name}' already exists: pick another name, or revoke it first", e);
            }
        }

        return (key, $"{Prefix}{id}_{secret}");
    }

    /// <summary>Every key, newest first (without secrets, which are not kept).</summary>
    public IReadOnlyList<ApiKey> List()
    {
        lock (_lock)
        {
            using var select = Command("SELECT id, name, scopes, created_at, expires_at, revoked_at FROM api_keys ORDER BY created_at DESC, name");
            using var reader = select.ExecuteReader();
            var keys = new List<ApiKey>();
            while (reader.Read())
            {
                keys.Add(Read(reader));
            }

            return keys;
        }
    }

    /// <summary>Revokes the key named <paramref name="name"/>; false when there is none (or it is already revoked).</summary>
    public bool Revoke(string name)
    {
        lock (_lock)
        {
            using var update = Command("UPDATE api_keys SET revoked_at = $now WHERE name = $name AND revoked_at IS NULL", ("$now", _time.GetUtcNow().ToUnixTimeSeconds()), ("$name", name));
            var changed = update.ExecuteNonQuery() == 1;
            _cache.Clear();
            return changed;
        }
    }

    /// <summary>The key <paramref name="presented"/> stands for, or why it is refused (never which part was wrong beyond the shape).</summary>
    public ApiKeyCheck Verify(string presented)
    {
        ArgumentNullException.ThrowIfNull(presented);
        if (!presented.StartsWith(Prefix, StringComparison.Ordinal) || presented.Length > 200 || presented.IndexOf('_', Prefix.Length) is var split && split < 0)
        {
            return ApiKeyCheck.Refused("not a Tributary API key (keys start with trib_)");
        }

        var id = presented[Prefix.Length..split];
        var secret = presented[(split + 1)..];
        DropCacheIfChanged();
        if (!_cache.TryGetValue(id, out var key))
        {
            lock (_lock)
            {
                using var select = Command("SELECT id, name, scopes, created_at, expires_at, revoked_at, secret_hash FROM api_keys WHERE id = $id", ("$id", id));
                using var reader = select.ExecuteReader();
                key = reader.Read() ? Read(reader) with { SecretHash = (byte[])reader[6] } : null;
                if (key is not null)
                {
                    _cache[id] = key;
                }
            }
        }

        var hash = key?.SecretHash;

        // The hash is compared even for an unknown id, so the time taken does not tell ids apart.
        var matches = CryptographicOperations.FixedTimeEquals(Hash(secret), hash ?? new byte[32]);
        if (key is null || !matches)
        {
            return ApiKeyCheck.Refused("unknown API key");
        }

        if (key.RevokedAt is not null)
        {
            return ApiKeyCheck.Refused($"API key '{key.Name}' was revoked");
        }

        if (key.ExpiresAt is { } expires && expires <= _time.GetUtcNow())
        {
            return ApiKeyCheck.Refused($"API key '{key.Name}' expired at {expires:yyyy-MM-ddTHH:mm:ssZ}");
        }

        return new ApiKeyCheck(key, null);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _wal.Dispose();
        _connection.Dispose();
    }

    /// <summary>Drops the cache when the write-ahead log changed since the last look (an fstat of its open handle).</summary>
    private void DropCacheIfChanged()
    {
        var stamp = (File.GetLastWriteTimeUtc(_wal), RandomAccess.GetLength(_wal));
        if (stamp != _walStamp)
        {
            lock (_lock)
            {
                _cache.Clear();
                _walStamp = stamp;
            }
        }
    }

    private static ApiKey Read(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2).Split(' ', StringSplitOptions.RemoveEmptyEntries),
        DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64(3)),
        reader.IsDBNull(4) ? null : DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64(4)),
        reader.IsDBNull(5) ? null : DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64(5)));

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private SqliteCommand Command(string sql, params (string Name, object? Value)[] parameters) => State.StateStore.Command(_connection, sql, parameters);
}

/// <summary>An API key as stored (its secret only as a hash).</summary>
/// <param name="Id">The public part of the key, after <c>trib_</c>.</param>
/// <param name="Name">Its unique name: the principal it authenticates as.</param>
/// <param name="Scopes">What it may do.</param>
/// <param name="CreatedAt">When it was made.</param>
/// <param name="ExpiresAt">When it stops working; null for never.</param>
/// <param name="RevokedAt">When it was revoked; null while valid.</param>
public sealed record ApiKey(string Id, string Name, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt)
{
    /// <summary>SHA-256 of the secret part (kept in memory for verification only).</summary>
    internal byte[]? SecretHash { get; init; }

    /// <summary>The principal the key authenticates as, made once while the key is cached.</summary>
    internal System.Security.Claims.ClaimsPrincipal? Principal { get; set; }

    /// <summary>A short state for listings: active, expired or revoked.</summary>
    public string State(DateTimeOffset now) =>
        RevokedAt is not null ? "revoked" : ExpiresAt is { } e && e <= now ? "expired" : "active";

    /// <summary>Formats a time for listings.</summary>
    public static string Format(DateTimeOffset? time) => time?.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture) ?? "never";
}

/// <summary>The outcome of checking a presented key.</summary>
/// <param name="Key">The key, when valid.</param>
/// <param name="Problem">Why it was refused, when not.</param>
public sealed record ApiKeyCheck(ApiKey? Key, string? Problem)
{
    /// <summary>A refusal.</summary>
    public static ApiKeyCheck Refused(string problem) => new(null, problem);
}
