using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Tributary.Core.Configuration;

namespace Tributary.Sources.Http;

/// <summary>How one source keeps answers: fresh for <see cref="Ttl"/>, and the last good one for <see cref="StaleIfError"/> to serve when the API fails.</summary>
public sealed record CacheOptions
{
    /// <summary>How long an answer is served without asking the API again; zero: every call asks.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.Zero;

    /// <summary>How long the last good answer may be served, marked stale, while the API fails or its circuit is open; zero: never.</summary>
    public TimeSpan StaleIfError { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Most answers kept; the oldest go first.</summary>
    public int MaxEntries { get; init; } = 1000;
}

/// <summary>Where an answer came from: the API (<see cref="Miss"/>), the cache while fresh (<see cref="Hit"/>), or the cache after the API failed (<see cref="Stale"/>).</summary>
public enum CacheOutcome
{
    /// <summary>Asked the API.</summary>
    Miss,

    /// <summary>A fresh cached answer.</summary>
    Hit,

    /// <summary>The last good answer, served because the API failed.</summary>
    Stale,
}

/// <summary>
/// Answers of one source by URL. Fresh answers live in the server's result cache (HybridCache: memory, and its second
/// level such as Redis, so servers sharing it share answers), which also makes concurrent identical misses share one
/// upstream call; only good answers (2xx) are kept. The last good answer of each URL also stays in this server's memory:
/// when the API then fails (after the retries, or with its circuit open) it is served within
/// <see cref="CacheOptions.StaleIfError"/>, marked <see cref="CacheOutcome.Stale"/>. At most
/// <see cref="CacheOptions.MaxEntries"/> URLs are kept; the one kept longest goes first, from both.
/// </summary>
internal sealed class ResponseCache(string source, CacheOptions options, HybridCache? shared, Func<string, ValueTask>? changed, TimeProvider time) : IDisposable
{
    /// <summary>For a source created outside a server that has a result cache: its own, in memory only.</summary>
    private readonly Lazy<ServiceProvider> _own = new(() =>
    {
        var services = new ServiceCollection();
        services.AddHybridCache(o => o.MaximumPayloadBytes = HttpProvider.MaxResponseBytesLimit + (64 * 1024));
        return services.BuildServiceProvider();
    });

    private readonly ConcurrentDictionary<string, Kept> _kept = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<UpstreamResponse>>> _inFlight = new(StringComparer.Ordinal);

    /// <summary>Changes made through the source so far: an answer fetched while the count moved may predate the change, so it is not kept fresh.</summary>
    private long _changes;

    private HybridCache Cache => shared ?? _own.Value.GetRequiredService<HybridCache>();

    /// <summary>The tag of all of this source's fresh answers: the one any change of the source drops (<see cref="ResultCacheSettings.AnyChangeTag"/>), so the server can drop them on its peers too.</summary>
    private string Tag => ResultCacheSettings.AnyChangeTag(source);

    /// <summary>
    /// The answer for <paramref name="url"/>: cached while fresh (for <paramref name="ttl"/>, a tool's own, or the
    /// source's), else from <paramref name="fetch"/>, else the last good one when that fails.
    /// </summary>
    public async Task<(UpstreamResponse Response, CacheOutcome Outcome)> GetAsync(string url, Func<Task<UpstreamResponse>> fetch, TimeSpan? ttl = null)
    {
        var fresh = ttl ?? options.Ttl;
        var key = fresh > TimeSpan.Zero ? Key(url, fresh) : null;
        UpstreamResponse response;
        try
        {
            if (key is null)
            {
                response = await OnceAsync(url, fetch);
            }
            else
            {
                var (answer, stored) = await FreshAsync(key, fresh, fetch);
                if (stored is { } at)
                {
                    if (!_kept.TryGetValue(url, out var kept) || kept.Stored < at)
                    {
                        // Another server fetched it (through the second level): it is this server's last good answer too.
                        await KeepAsync(url, key, answer, at);
                    }

                    return (answer, CacheOutcome.Hit);
                }

                response = answer;
            }
        }
        catch (UpstreamException e) when (e.Transient && Stale(url) is { } stale)
        {
            return (stale, CacheOutcome.Stale);
        }

        if (response.Status is >= 200 and < 300)
        {
            await KeepAsync(url, key, response, time.GetUtcNow());
        }
        else if (response.Status is 429 or >= 500 && Stale(url) is { } stale)
        {
            return (stale, CacheOutcome.Stale);
        }

        return (response, CacheOutcome.Miss);
    }

    /// <summary>
    /// Drops this source's fresh answers (a call through Tributary changed something at the API): through the server's
    /// <c>changed</c> callback, which drops them here and on the servers sharing Redis, or, outside a server, here. The
    /// last good answers stay for stale-if-error.
    /// </summary>
    public ValueTask ForgetFreshAsync()
    {
        Interlocked.Increment(ref _changes);
        return changed is not null ? changed(source)
            : _own.IsValueCreated ? Cache.RemoveByTagAsync(Tag)
            : ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_own.IsValueCreated)
        {
            _own.Value.Dispose();
        }
    }

    /// <summary>One upstream call for concurrent identical GETs when nothing is kept fresh.</summary>
    private async Task<UpstreamResponse> OnceAsync(string url, Func<Task<UpstreamResponse>> fetch)
    {
        var call = _inFlight.GetOrAdd(url, _ => new Lazy<Task<UpstreamResponse>>(fetch));
        try
        {
            return await call.Value;
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<string, Lazy<Task<UpstreamResponse>>>(url, call));
        }
    }

    /// <summary>
    /// The answer under <paramref name="key"/> with the time it was stored if the cache holds one fresh by this server's
    /// clock (a hit), else the one <paramref name="fetch"/> gets, with no time (a good one is kept by the cache; another is
    /// handed to every waiting caller without being kept).
    /// </summary>
    private async Task<(UpstreamResponse Answer, DateTimeOffset? Stored)> FreshAsync(string key, TimeSpan fresh, Func<Task<UpstreamResponse>> fetch)
    {
        var cache = Cache;
        var entry = new HybridCacheEntryOptions { Expiration = fresh, LocalCacheExpiration = fresh };
        for (var attempt = 0; ; attempt++)
        {
            var changes = Interlocked.Read(ref _changes);
            var lookup = new Lookup(fetch, time);
            byte[] payload;
            try
            {
                payload = await cache.GetOrCreateAsync(key, lookup, static (lookup, _) => lookup.RunAsync(), entry, [Tag], CancellationToken.None);
            }
            catch (NotKept e)
            {
                return (e.Response, null);
            }

            if (lookup.Response is { } own)
            {
                if (Interlocked.Read(ref _changes) != changes)
                {
                    // A change went through the source while this answer was on its way: it may predate the change.
                    await cache.RemoveAsync(key, CancellationToken.None);
                }

                return (own, null);
            }

            if (Decode(payload) is { } cached && (attempt > 0 || time.GetUtcNow() - cached.Stored < fresh))
            {
                return (cached.Response, cached.Stored);
            }

            // Unreadable (another version's format), or older than this server's clock allows (another server's clock differs): ask again.
            await cache.RemoveAsync(key, CancellationToken.None);
        }
    }

    private UpstreamResponse? Stale(string url) =>
        _kept.TryGetValue(url, out var kept) && time.GetUtcNow() - kept.Stored <= options.StaleIfError ? kept.Response : null;

    /// <summary>Keeps <paramref name="response"/> as the last good answer of <paramref name="url"/>, dropping the URL kept longest (and its fresh answer) when over the bound.</summary>
    private async ValueTask KeepAsync(string url, string? key, UpstreamResponse response, DateTimeOffset stored)
    {
        if (key is null && options.StaleIfError <= TimeSpan.Zero)
        {
            return;
        }

        _kept[url] = new Kept(response, stored, time.GetUtcNow(), key);
        while (_kept.Count > options.MaxEntries && _kept.MinBy(k => k.Value.KeptAt) is { Key: { } oldest })
        {
            if (_kept.TryRemove(oldest, out var dropped) && dropped.Key is { } freshKey)
            {
                await Cache.RemoveAsync(freshKey, CancellationToken.None);
            }
        }
    }

    /// <summary>The cache key: the source, how long the answer stays fresh (a tool's cache_ttl may differ from the source's), and the URL's SHA-256 (URLs can be longer than a key may be).</summary>
    private string Key(string url, TimeSpan fresh) =>
        $"tributary:http:{source}:{(long)fresh.TotalMilliseconds}:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(url)))}";

    /// <summary>An answer as the cache holds it: when it was stored, its status, content type, final URL and body.</summary>
    private static byte[] Encode(DateTimeOffset stored, UpstreamResponse response)
    {
        using var buffer = new MemoryStream(response.Body.Length + 256);
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write((byte)1);
            writer.Write(stored.ToUnixTimeMilliseconds());
            writer.Write(response.Status);
            writer.Write(response.ContentType ?? "");
            writer.Write(response.Url.AbsoluteUri);
            writer.Write(response.Body.Length);
            writer.Write(response.Body);
        }

        return buffer.ToArray();
    }

    /// <summary>The answer in <paramref name="payload"/>, or null when it cannot be read (another format, or damaged).</summary>
    private static (DateTimeOffset Stored, UpstreamResponse Response)? Decode(byte[] payload)
    {
        try
        {
            using var reader = new BinaryReader(new MemoryStream(payload), Encoding.UTF8);
            if (reader.ReadByte() != 1)
            {
                return null;
            }

            var stored = DateTimeOffset.FromUnixTimeMilliseconds(reader.ReadInt64());
            var status = reader.ReadInt32();
            var contentType = reader.ReadString();
            var url = new Uri(reader.ReadString());
            var length = reader.ReadInt32();
            var body = reader.ReadBytes(length);
            return body.Length == length ? (stored, new UpstreamResponse(status, contentType.Length == 0 ? null : contentType, body, url)) : null;
        }
        catch (Exception e) when (e is IOException or UriFormatException or ArgumentException or FormatException)
        {
            return null;
        }
    }

    /// <summary>A URL's last good answer: when it was fetched (for stale-if-error), when this server kept it (for the bound), and its fresh entry's key.</summary>
    private sealed record Kept(UpstreamResponse Response, DateTimeOffset Stored, DateTimeOffset KeptAt, string? Key);

    /// <summary>One caller's run of the upstream call on a miss; <see cref="Response"/> is set for the caller that ran it.</summary>
    private sealed class Lookup(Func<Task<UpstreamResponse>> fetch, TimeProvider time)
    {
        public UpstreamResponse? Response { get; private set; }

        public async ValueTask<byte[]> RunAsync()
        {
            var response = await fetch();
            Response = response;
            return response.Status is >= 200 and < 300 ? Encode(time.GetUtcNow(), response) : throw new NotKept(response);
        }
    }

    /// <summary>An answer that is not kept (not 2xx): thrown out of the cache's factory so that the cache keeps nothing, and handed to every caller that waited for it.</summary>
    private sealed class NotKept(UpstreamResponse response) : Exception("an upstream answer that is not kept")
    {
        public UpstreamResponse Response => response;
    }
}
