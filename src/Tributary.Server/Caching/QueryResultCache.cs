using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Queries;
using Tributary.Core.Security;
using Tributary.Core.Sources;
using Tributary.Server.Observability;

namespace Tributary.Server.Caching;

/// <summary>One page of a query as <c>query</c> or a named read tool asks for it.</summary>
/// <param name="Tool">The tool asking (its cursors differ, so its results are kept apart).</param>
/// <param name="Source">The source's name.</param>
/// <param name="Request">The statement, its parameters (claim-bound ones included) and the page.</param>
/// <param name="CursorFor">Makes the cursor of the next page from its offset.</param>
/// <param name="Grants">What the caller may do.</param>
/// <param name="ToolTtl">The tool's own <c>cache_ttl</c>, or null for the source's.</param>
/// <param name="Start">When the call started (a <see cref="System.Diagnostics.Stopwatch"/> timestamp), for <c>elapsed_ms</c>.</param>
internal sealed record QueryPage(string Tool, string Source, QueryRequest Request, Func<int, string> CursorFor, Grants Grants, TimeSpan? ToolTtl, long Start);

/// <summary>
/// Query results through the result cache (HybridCache: memory, and any registered <c>IDistributedCache</c> as its second
/// level). A source's <c>cache_ttl</c> (or a read tool's) turns it on; the result JSON is kept as bytes, so a hit runs
/// no query and serializes nothing. Concurrent identical misses run the query once. Each result is tagged with its
/// source and each table its statement reads; a write through Tributary or a captured change of a table drops the
/// results that read it; results whose tables are unknown are dropped by any change of their source. Changes nobody
/// reports (another program writing an uncaptured table) show once the TTL has passed. Servers sharing
/// <c>server.redis</c> share results through it, and tell each other which tables changed: HybridCache has no
/// channel of its own to drop the copies in the other servers' memory.
/// </summary>
public sealed class QueryResultCache
{
    /// <summary>Most statements whose tables are remembered per source.</summary>
    private const int MaxRememberedStatements = 1024;

    private readonly HybridCache? _cache;
    private readonly SourceRegistry _sources;
    private readonly QueryCursorCodec _cursors;
    private readonly TributaryMetrics _metrics;
    private readonly Dictionary<string, SourceCache> _bySource;

    private readonly CachePeers? _peers;

    /// <summary>Creates the cache of the configured sources; HybridCache is used only when some source or tool has a TTL.</summary>
    public QueryResultCache(TributaryConfig config, SourceRegistry sources, QueryCursorCodec cursors, TributaryMetrics metrics, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(services);
        _sources = sources;
        _cursors = cursors;
        _metrics = metrics;
        _cache = IsUsed(config) ? services.GetRequiredService<HybridCache>() : null;
        _bySource = config.Sources.ToDictionary(s => s.Name, s => new SourceCache(ResultCacheSettings.Read(s, new ConfigErrors())), StringComparer.Ordinal);
        if (_cache is not null && config.Server.Redis is not null)
        {
            _peers = Peers(services);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private CachePeers Peers(IServiceProvider services) => new(
        services.GetRequiredService<RedisConnection>(),
        (source, tables) => _ = DropAsync(source, tables).AsTask(),
        services.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>().CreateLogger(typeof(CachePeers).FullName!));

    /// <summary>True when some source or read tool of <paramref name="config"/> caches results.</summary>
    public static bool IsUsed(TributaryConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.Sources.Any(s => ResultCacheSettings.Read(s, new ConfigErrors()).Ttl > TimeSpan.Zero) || config.Tools.Any(t => t.CacheTtl > TimeSpan.Zero);
    }

    /// <summary>
    /// HybridCache's bound on one entry: a page may pass the source's <c>max_result_bytes</c> by its last row (and its
    /// cursor), so twice the largest bound is kept; an HTTP API's answer, decompressed, may be five times its
    /// <c>max_response_bytes</c>.
    /// </summary>
    public static long MaxPayloadBytes(TributaryConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var largest = config.Sources.Select(s => s.Kind == Sources.Http.HttpProvider.KindName ? Sources.Http.HttpProvider.MaxCachedBytes(s) : 2 * s.MaxResultBytes);
        return Math.Min(int.MaxValue, largest.DefaultIfEmpty(2 * SourceConfig.DefaultMaxResultBytes).Max() + (64 * 1024));
    }

    /// <summary>Writes <paramref name="page"/>'s result JSON to <paramref name="output"/>: from the cache, or by running the query (and keeping its result).</summary>
    internal async ValueTask WriteAsync(QueryPage page, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        var source = _sources.Get(page.Source);
        var state = _bySource[page.Source];
        var ttl = page.ToolTtl ?? state.Settings.Ttl;
        if (_cache is null || ttl <= TimeSpan.Zero)
        {
            using var writer = new QueryResultWriter(output, page.CursorFor, page.Start);
            await source.QueryAsync(page.Request, writer, cancellationToken);
            return;
        }

        var key = Key(page);
        var tags = await state.TagsAsync(source, page.Request, cancellationToken);
        var lookup = new Lookup(source, page, state.Generation);
        var options = new HybridCacheEntryOptions { Expiration = ttl, LocalCacheExpiration = ttl };
        var body = await _cache.GetOrCreateAsync(key, lookup, static (lookup, token) => lookup.RunAsync(token), options, tags, cancellationToken);
        if (lookup.Ran && state.Generation != lookup.Generation)
        {
            // A table changed while the query ran: its result may predate the change, so it is not kept.
            await _cache.RemoveAsync(key, CancellationToken.None);
        }

        if (state.Recent.Touch(key) is { } evicted)
        {
            await _cache.RemoveAsync(evicted, CancellationToken.None);
        }

        _metrics.CacheLookup(page.Source, hit: !lookup.Ran);
        output.Write(body);
        QueryResultWriter.WriteEnd(output, hit: !lookup.Ran, page.Start);
    }

    /// <summary>
    /// Drops the cached results of <paramref name="source"/> that read any of <paramref name="tables"/> (a qualified
    /// name also drops its unqualified one), and those whose tables are unknown.
    /// </summary>
    public async ValueTask TablesChangedAsync(string source, IEnumerable<string> tables)
    {
        ArgumentNullException.ThrowIfNull(tables);
        var changed = tables as IReadOnlyCollection<string> ?? tables.ToArray();
        await DropAsync(source, changed);
        if (_peers is not null && _cache is not null)
        {
            await _peers.AnnounceAsync(source, changed);
        }
    }

    private async ValueTask DropAsync(string source, IReadOnlyCollection<string> tables)
    {
        if (_cache is null || !_bySource.TryGetValue(source, out var state))
        {
            return;
        }

        state.Changed();
        var tags = new HashSet<string>(StringComparer.Ordinal) { ResultCacheSettings.AnyChangeTag(source) };
        foreach (var table in tables.Select(t => t.ToLowerInvariant()))
        {
            tags.Add(Tag(source, table));
            tags.Add(Tag(source, table[(table.LastIndexOf('.') + 1)..]));
        }

        await _cache.RemoveByTagAsync(tags, CancellationToken.None);
    }

    private static string Tag(string source, string table) => $"{source}:{table}";


    /// <summary>
    /// The cache key: SHA-256 of everything a result depends on. Results do not differ by caller beyond what the caller
    /// may read (checked before the cache is asked) and parameters bound to the caller's claims (part of the parameters);
    /// the caller's scopes are part of the key all the same, so callers with other rights never share an entry. The
    /// cursor key's id is part of it because results carry cursors that only that key opens.
    /// </summary>
    private string Key(QueryPage page)
    {
        using var buffer = new PooledBufferWriter(1024);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            json.WriteStringValue("v1"u8);
            json.WriteStringValue(_cursors.KeyId);
            json.WriteStartArray();
            foreach (var scope in page.Grants.Scopes.Order(StringComparer.Ordinal))
            {
                json.WriteStringValue(scope);
            }

            json.WriteEndArray();
            json.WriteStringValue(page.Tool);
            json.WriteStringValue(page.Source);
            json.WriteStringValue(StatementText.Normalize(page.Request.Sql));
            json.WriteStartArray();
            foreach (var parameter in page.Request.Parameters)
            {
                json.WriteStringValue(parameter.Name);
                // The type travels with the value: 1 and 1.0 bind differently.
                switch (parameter.Value)
                {
                    case null:
                        json.WriteNullValue();
                        break;
                    case long number:
                        json.WriteStringValue("l"u8);
                        json.WriteNumberValue(number);
                        break;
                    case double number:
                        json.WriteStringValue("d"u8);
                        json.WriteNumberValue(number);
                        break;
                    case bool flag:
                        json.WriteBooleanValue(flag);
                        break;
                    case var other:
                        json.WriteStringValue(other.GetType().Name);
                        json.WriteStringValue(Convert.ToString(other, System.Globalization.CultureInfo.InvariantCulture));
                        break;
                }
            }

            json.WriteEndArray();
            json.WriteNumberValue(page.Request.MaxRows);
            json.WriteNumberValue(page.Request.Offset);
            json.WriteNumberValue(page.Request.MaxBytes);
            json.WriteEndArray();
        }

        return $"tributary:query:{page.Source}:{Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan))}";
    }

    /// <summary>One call's run of the query on a miss; <see cref="Ran"/> tells the call whether it was the one that ran it.</summary>
    private sealed class Lookup(IDataSource source, QueryPage page, long generation)
    {
        public long Generation => generation;

        public bool Ran { get; private set; }

        public async ValueTask<byte[]> RunAsync(CancellationToken cancellationToken)
        {
            using var buffer = new PooledBufferWriter();
            using (var writer = new QueryResultWriter(buffer, page.CursorFor, page.Start, leaveOpen: true))
            {
                await source.QueryAsync(page.Request, writer, cancellationToken);
            }

            Ran = true;
            return buffer.WrittenSpan.ToArray();
        }
    }

    /// <summary>A source's settings, its most recently used keys, the tables of its statements, and a count of its changes.</summary>
    private sealed class SourceCache(ResultCacheSettings settings)
    {
        private readonly ConcurrentDictionary<string, string[]> _tags = new(StringComparer.Ordinal);
        private long _generation;

        public ResultCacheSettings Settings => settings;

        public RecentKeys Recent { get; } = new(settings.MaxEntries);

        /// <summary>Changes seen so far: a query that saw the count move while it ran keeps no result.</summary>
        public long Generation => Interlocked.Read(ref _generation);

        public void Changed() => Interlocked.Increment(ref _generation);

        /// <summary>
        /// The tags of a statement's results: the source, and each table it reads (or, when they cannot be told, <see cref="ResultCacheSettings.AnyChangeTag"/>).
        /// Learned once per statement; a view redefined while the server runs keeps the tables it had.
        /// </summary>
        public async ValueTask<string[]> TagsAsync(IDataSource source, QueryRequest request, CancellationToken cancellationToken)
        {
            var statement = StatementText.Normalize(request.Sql);
            if (_tags.TryGetValue(statement, out var known))
            {
                return known;
            }

            var tables = source is ITableReads reads ? await reads.TablesReadAsync(request, cancellationToken) : null;
            string[] tags = [source.Name, .. tables?.Select(t => Tag(source.Name, t)) ?? [ResultCacheSettings.AnyChangeTag(source.Name)]];
            if (_tags.Count >= MaxRememberedStatements)
            {
                _tags.Clear();
            }

            _tags[statement] = tags;
            return tags;
        }
    }

    /// <summary>The keys a source used most recently, at most its <c>cache_max_entries</c>.</summary>
    private sealed class RecentKeys(int capacity)
    {
        private readonly LinkedList<string> _order = new();
        private readonly Dictionary<string, LinkedListNode<string>> _nodes = new(StringComparer.Ordinal);
        private readonly Lock _lock = new();

        /// <summary>Marks <paramref name="key"/> as the most recent; returns the least recent key when that pushes one out.</summary>
        public string? Touch(string key)
        {
            lock (_lock)
            {
                if (_nodes.TryGetValue(key, out var node))
                {
                    _order.Remove(node);
                    _order.AddLast(node);
                    return null;
                }

                _nodes[key] = _order.AddLast(key);
                if (_order.Count <= capacity)
                {
                    return null;
                }

                var oldest = _order.First!;
                _order.RemoveFirst();
                _nodes.Remove(oldest.Value);
                return oldest.Value;
            }
        }
    }
}
