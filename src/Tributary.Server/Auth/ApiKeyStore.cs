using System.Globalization;
using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Tributary.Server.Auth;

/// <summary>
/// API keys in Tributary's state store (<c>state.db</c>): each key is <c>trib_&lt;id&gt;_&lt;secret&gt;</c> with 256 random
/// bits of secret, shown once at creation and kept only as a SHA-256 hash. Verification compares hashes in constant time.
/// Keys are cached in memory, and the cache is dropped whenever the store's write-ahead log index changes (every commit, by any
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
    // Longer than any key made here (5 + 12 + 1 + 43 characters); longer text is refused unread.
    private const int MaxKeyLength = 200;

    // What an unknown id's secret is compared with, so that it takes as long as a known one.
    private static readonly byte[] UnknownKeyHash = new byte[SHA256.HashSizeInBytes];

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ApiKey> _cache = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ApiKey>.AlternateLookup<ReadOnlySpan<char>> _cacheById;
    private readonly MemoryMappedFile _sharedMemory;
    private readonly MemoryMappedViewAccessor _walIndexHeader;
    private WalIndexHeader _seen;

    /// <summary>Opens (or creates) the key table in the state store at <paramref name="path"/>.</summary>
    public ApiKeyStore(string path, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _time = time ?? TimeProvider.System;
        _cacheById = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false, DefaultTimeout = 5 }.ToString());
        _connection.Open();
        using var command = _connection.CreateCommand();
        command.CommandText = Schema + "PRAGMA busy_timeout = 5000;";
        command.ExecuteNonQuery();
        // The shared-memory file lives as long as this connection is open; SQLite maps it too, and rewrites its header at
        // every commit, by any process (https://www.sqlite.org/walformat.html#the_wal_index_file_format).
        _sharedMemory = MemoryMappedFile.CreateFromFile(
            new FileStream(Path.GetFullPath(path) + "-shm", FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete),
            mapName: null, capacity: 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        _walIndexHeader = _sharedMemory.CreateViewAccessor(0, WalIndexHeader.Size, MemoryMappedFileAccess.Read);
        _seen = WalIndexHeader.Read(_walIndexHeader);
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
    public ApiKeyCheck Verify(ReadOnlySpan<char> presented)
    {
        if (!presented.StartsWith(Prefix, StringComparison.Ordinal) || presented.Length > MaxKeyLength || presented[Prefix.Length..].IndexOf('_') is var idLength && idLength < 0)
        {
            return ApiKeyCheck.Refused("not a Tributary API key (keys start with trib_)");
        }

        var id = presented.Slice(Prefix.Length, idLength);
        var secret = presented[(Prefix.Length + idLength + 1)..];
        DropCacheIfChanged();
        if (!_cacheById.TryGetValue(id, out var key))
        {
            lock (_lock)
            {
                using var select = Command("SELECT id, name, scopes, created_at, expires_at, revoked_at, secret_hash FROM api_keys WHERE id = $id", ("$id", id.ToString()));
                using var reader = select.ExecuteReader();
                key = reader.Read() ? Read(reader) with { SecretHash = (byte[])reader[6] } : null;
                if (key is not null)
                {
                    _cache[key.Id] = key;
                }
            }
        }

        // The hash is compared even for an unknown id, so the time taken does not tell ids apart.
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> utf8 = stackalloc byte[MaxKeyLength * 3];
        SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(secret, utf8)], hash);
        var matches = CryptographicOperations.FixedTimeEquals(hash, key?.SecretHash ?? UnknownKeyHash);
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
        _walIndexHeader.Dispose();
        _sharedMemory.Dispose();
        _connection.Dispose();
    }

    /// <summary>
    /// Drops the cache when anything was committed to the store since the last look: the wal-index header changed (read
    /// from shared memory, so no system call).
    /// </summary>
    private void DropCacheIfChanged()
    {
        var header = WalIndexHeader.Read(_walIndexHeader);
        if (header != _seen)
        {
            lock (_lock)
            {
                _cache.Clear();
                _seen = header;
            }
        }
    }

    /// <summary>
    /// The first copy of SQLite's wal-index header (48 bytes): a change counter bumped by every transaction, the last
    /// valid frame, the page count, checksums and the log's salts. Any commit changes it.
    /// </summary>
    private readonly record struct WalIndexHeader(ulong A, ulong B, ulong C, ulong D, ulong E, ulong F)
    {
        public const int Size = 48;

        public static WalIndexHeader Read(MemoryMappedViewAccessor view) =>
            new(view.ReadUInt64(0), view.ReadUInt64(8), view.ReadUInt64(16), view.ReadUInt64(24), view.ReadUInt64(32), view.ReadUInt64(40));
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
