using System.Collections.Concurrent;

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
/// Answers of one source by URL: concurrent identical misses share one upstream call; a good answer (2xx) is kept; when
/// the API then fails (after the retries, or with its circuit open) the last good answer within
/// <see cref="CacheOptions.StaleIfError"/> is served instead, marked <see cref="CacheOutcome.Stale"/>.
/// </summary>
internal sealed class ResponseCache(CacheOptions options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, (UpstreamResponse Response, DateTimeOffset Stored)> _answers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<UpstreamResponse>>> _inFlight = new(StringComparer.Ordinal);

    /// <summary>
    /// The answer for <paramref name="key"/>: cached while fresh (for <paramref name="ttl"/>, a tool's own, or the
    /// source's), else from <paramref name="fetch"/>, else the last good one when that fails.
    /// </summary>
    public async Task<(UpstreamResponse Response, CacheOutcome Outcome)> GetAsync(string key, Func<Task<UpstreamResponse>> fetch, TimeSpan? ttl = null)
    {
        var fresh = ttl ?? options.Ttl;
        var now = time.GetUtcNow();
        if (_answers.TryGetValue(key, out var cached) && now - cached.Stored < fresh)
        {
            return (cached.Response, CacheOutcome.Hit);
        }

        var call = _inFlight.GetOrAdd(key, _ => new Lazy<Task<UpstreamResponse>>(fetch));
        UpstreamResponse response;
        try
        {
            response = await call.Value;
        }
        catch (UpstreamException e) when (e.Transient && Stale(key) is { } stale)
        {
            return (stale, CacheOutcome.Stale);
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<string, Lazy<Task<UpstreamResponse>>>(key, call));
        }

        if (response.Status is >= 200 and < 300)
        {
            Keep(key, response, fresh);
        }
        else if (response.Status is 429 or >= 500 && Stale(key) is { } stale)
        {
            return (stale, CacheOutcome.Stale);
        }

        return (response, CacheOutcome.Miss);
    }

    private UpstreamResponse? Stale(string key) =>
        _answers.TryGetValue(key, out var cached) && time.GetUtcNow() - cached.Stored <= options.StaleIfError ? cached.Response : null;

    private void Keep(string key, UpstreamResponse response, TimeSpan fresh)
    {
        if (fresh <= TimeSpan.Zero && options.StaleIfError <= TimeSpan.Zero)
        {
            return;
        }

        _answers[key] = (response, time.GetUtcNow());
        while (_answers.Count > options.MaxEntries && _answers.MinBy(a => a.Value.Stored) is { Key: { } oldest })
        {
            _answers.TryRemove(oldest, out _);
        }
    }
}
