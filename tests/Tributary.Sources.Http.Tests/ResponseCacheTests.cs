using System.Text;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Sources;
using Tributary.Sources.Http;
using Tributary.Testing;

namespace Tributary.Sources.Http.Tests;

/// <summary>The source's cache against a real upstream on loopback: fresh hits, one call for concurrent misses, the last good answer while the API fails.</summary>
public sealed class ResponseCacheTests
{
    private int _calls;
    private volatile bool _failing;

    [Fact]
    public async Task A_fresh_answer_is_served_from_the_cache()
    {
        await using var upstream = Upstream();
        await using var source = Source(upstream, ("cache_ttl", "60s"));
        Assert.Equal(CacheOutcome.Miss, (await source.FetchAsync("/items", [], CancellationToken.None)).Cache);
        var second = await source.FetchAsync("/items", [], CancellationToken.None);
        Assert.Equal(CacheOutcome.Hit, second.Cache);
        Assert.Equal("answer 1", Encoding.UTF8.GetString(second.Response.Body));
        Assert.Equal(1, Volatile.Read(ref _calls));

        // Another query string is another answer.
        Assert.Equal(CacheOutcome.Miss, (await source.FetchAsync("/items", [new("page", "2")], CancellationToken.None)).Cache);
        Assert.Equal(2, Volatile.Read(ref _calls));
    }

    [Fact]
    public async Task An_answer_that_is_not_good_is_not_kept_and_a_change_through_the_source_drops_the_fresh_ones()
    {
        await using var upstream = Upstream();
        await using var source = Source(upstream, ("cache_ttl", "60s"), ("retries", "0"));
        _failing = true;
        Assert.Equal((500, CacheOutcome.Miss), Outcome(await source.FetchAsync("/items", [], CancellationToken.None)));
        _failing = false;
        Assert.Equal((200, CacheOutcome.Miss), Outcome(await source.FetchAsync("/items", [], CancellationToken.None)));
        Assert.Equal((200, CacheOutcome.Hit), Outcome(await source.FetchAsync("/items", [], CancellationToken.None)));
        Assert.Equal(2, Volatile.Read(ref _calls));

        // A failed change changes nothing: the fresh answer stays.
        _failing = true;
        Assert.Equal(500, (await source.CallAsync(new UpstreamCall(HttpMethod.Post, "/items", [], "{}"u8.ToArray()), CancellationToken.None)).Response.Status);
        Assert.Equal((200, CacheOutcome.Hit), Outcome(await source.FetchAsync("/items", [], CancellationToken.None)));

        _failing = false;
        Assert.Equal(200, (await source.CallAsync(new UpstreamCall(HttpMethod.Post, "/items", [], "{}"u8.ToArray()), CancellationToken.None)).Response.Status);
        var after = await source.FetchAsync("/items", [], CancellationToken.None);
        Assert.Equal((200, CacheOutcome.Miss), Outcome(after));
        Assert.Equal("answer 5", Encoding.UTF8.GetString(after.Response.Body));
    }

    [Fact]
    public async Task An_answer_fetched_while_a_change_went_through_is_not_kept_fresh()
    {
        var state = 0;
        using var getting = new SemaphoreSlim(0);
        using var changed = new SemaphoreSlim(0);
        await using var upstream = LoopbackHttpServer.Start(async (context, stop) =>
        {
            if (context.Request.HttpMethod == "POST")
            {
                Interlocked.Increment(ref state);
                await LoopbackHttpServer.AnswerAsync(context, "text/plain", "done"u8.ToArray());
                return;
            }

            // The GET reads the state before the change, and answers after it.
            var seen = Volatile.Read(ref state);
            getting.Release();
            await changed.WaitAsync(stop);
            await LoopbackHttpServer.AnswerAsync(context, "text/plain", Encoding.UTF8.GetBytes($"state {seen}"));
        });
        await using var source = Source(upstream, ("cache_ttl", "60s"), ("retries", "0"));

        var slow = source.FetchAsync("/items", [], CancellationToken.None);
        await getting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(200, (await source.CallAsync(new UpstreamCall(HttpMethod.Post, "/items", [], "{}"u8.ToArray()), CancellationToken.None)).Response.Status);
        changed.Release();
        Assert.Equal("state 0", Encoding.UTF8.GetString((await slow).Response.Body));

        // The next GET asks again and sees the change.
        changed.Release();
        var after = await source.FetchAsync("/items", [], CancellationToken.None);
        Assert.Equal((200, CacheOutcome.Miss), Outcome(after));
        Assert.Equal("state 1", Encoding.UTF8.GetString(after.Response.Body));
    }

    [Fact]
    public async Task A_call_with_its_own_ttl_keeps_its_answer_apart_from_the_sources()
    {
        await using var upstream = Upstream();
        await using var source = Source(upstream);
        var daily = new UpstreamCall(HttpMethod.Get, "/items", [], CacheTtl: TimeSpan.FromDays(1));
        Assert.Equal(CacheOutcome.Miss, (await source.CallAsync(daily, CancellationToken.None)).Cache);
        Assert.Equal(CacheOutcome.Hit, (await source.CallAsync(daily, CancellationToken.None)).Cache);

        // The source keeps nothing fresh: fetch of the same URL asks the API each time.
        Assert.Equal(CacheOutcome.Miss, (await source.FetchAsync("/items", [], CancellationToken.None)).Cache);
        Assert.Equal(CacheOutcome.Miss, (await source.FetchAsync("/items", [], CancellationToken.None)).Cache);
        Assert.Equal(3, Volatile.Read(ref _calls));
    }

    [Fact]
    public async Task The_url_kept_longest_is_dropped_past_the_bound()
    {
        await using var upstream = Upstream();
        await using var source = Source(upstream, ("cache_ttl", "60s"), ("cache_max_entries", "2"));
        foreach (var path in new[] { "/a", "/b", "/c" })
        {
            Assert.Equal(CacheOutcome.Miss, (await source.FetchAsync(path, [], CancellationToken.None)).Cache);
        }

        Assert.Equal(CacheOutcome.Hit, (await source.FetchAsync("/c", [], CancellationToken.None)).Cache);
        Assert.Equal(CacheOutcome.Hit, (await source.FetchAsync("/b", [], CancellationToken.None)).Cache);
        Assert.Equal(CacheOutcome.Miss, (await source.FetchAsync("/a", [], CancellationToken.None)).Cache);
    }

    [Fact]
    public async Task Concurrent_identical_misses_make_one_upstream_call()
    {
        await using var upstream = Upstream(delay: TimeSpan.FromMilliseconds(500));
        await using var source = Source(upstream);
        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => source.FetchAsync("/items", [], CancellationToken.None)));
        Assert.All(answers, a => Assert.Equal("answer 1", Encoding.UTF8.GetString(a.Response.Body)));
        Assert.Equal(1, Volatile.Read(ref _calls));
    }

    [Fact]
    public async Task While_the_api_fails_the_last_good_answer_is_served_as_stale_and_without_one_the_error_shows()
    {
        await using var upstream = Upstream();
        await using var source = Source(upstream, ("retries", "0"));
        Assert.Equal(CacheOutcome.Miss, (await source.FetchAsync("/items", [], CancellationToken.None)).Cache);

        _failing = true;
        var stale = await source.FetchAsync("/items", [], CancellationToken.None);
        Assert.Equal(CacheOutcome.Stale, stale.Cache);
        Assert.Equal(200, stale.Response.Status);
        Assert.Equal("answer 1", Encoding.UTF8.GetString(stale.Response.Body));
        Assert.Equal(2, Volatile.Read(ref _calls));

        // Nothing good was ever kept for this one: the failure itself comes back.
        var failed = await source.FetchAsync("/other", [], CancellationToken.None);
        Assert.Equal((500, CacheOutcome.Miss), (failed.Response.Status, failed.Cache));

        // An API that cannot be reached at all, with nothing kept: a tool error that says so.
        await using var gone = Source(upstream, ("base_url", $"http://127.0.0.1:{TestPaths.FreePort()}/v1"), ("retries", "0"));
        var error = await Assert.ThrowsAsync<ToolException>(() => gone.FetchAsync("/items", [], CancellationToken.None));
        Assert.Contains("could not be reached", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_answer_another_server_fetched_is_a_hit_here_and_this_servers_stale_answer_when_the_api_then_fails()
    {
        await using var upstream = Upstream();
        var services = new ServiceCollection();
        services.AddHybridCache();
        await using var provider = services.BuildServiceProvider();
        var shared = provider.GetRequiredService<HybridCache>();
        var clock = new Clock();
        var url = $"http://127.0.0.1:{upstream.Port}/v1";
        await using var first = TestSources.Create(url, shared, clock, ("cache_ttl", "60s"), ("retries", "0"));
        await using var second = TestSources.Create(url, shared, clock, ("cache_ttl", "60s"), ("retries", "0"));

        Assert.Equal(CacheOutcome.Miss, (await first.FetchAsync("/items", [], CancellationToken.None)).Cache);
        Assert.Equal(CacheOutcome.Hit, (await second.FetchAsync("/items", [], CancellationToken.None)).Cache);

        // Past the TTL the second server asks the API itself; it fails, and the answer the first one fetched is served.
        clock.Now += TimeSpan.FromSeconds(61);
        _failing = true;
        var stale = await second.FetchAsync("/items", [], CancellationToken.None);
        Assert.Equal((200, CacheOutcome.Stale), Outcome(stale));
        Assert.Equal("answer 1", Encoding.UTF8.GetString(stale.Response.Body));
        Assert.Equal(2, Volatile.Read(ref _calls));
    }

    [Fact]
    public async Task Stale_answers_can_be_turned_off()
    {
        await using var upstream = Upstream();
        await using var source = Source(upstream, ("retries", "0"), ("stale_if_error", "0s"));
        await source.FetchAsync("/items", [], CancellationToken.None);
        _failing = true;
        var failed = await source.FetchAsync("/items", [], CancellationToken.None);
        Assert.Equal((500, CacheOutcome.Miss), (failed.Response.Status, failed.Cache));
    }

    private sealed class Clock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = DateTimeOffset.UtcNow;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static (int Status, CacheOutcome Cache) Outcome((UpstreamResponse Response, CacheOutcome Cache) answer) => (answer.Response.Status, answer.Cache);

    private LoopbackHttpServer Upstream(TimeSpan? delay = null) => LoopbackHttpServer.Start(async (context, stop) =>
    {
        var n = Interlocked.Increment(ref _calls);
        if (delay is { } wait)
        {
            await Task.Delay(wait, stop);
        }

        if (_failing)
        {
            context.Response.StatusCode = 500;
        }

        await LoopbackHttpServer.AnswerAsync(context, "text/plain", Encoding.UTF8.GetBytes($"answer {n}"));
    });

    private static HttpSource Source(LoopbackHttpServer upstream, params (string Key, string Value)[] settings) =>
        TestSources.Create($"http://127.0.0.1:{upstream.Port}/v1", settings);
}
