using System.Net;
using System.Text;
using Tributary.Sources.Http;
using Tributary.Testing;

namespace Tributary.Sources.Http.Tests;

/// <summary>Retries, Retry-After and the circuit breaker against an upstream on loopback that fails on demand.</summary>
public sealed class ResilientUpstreamTests
{
    private static readonly ResilienceOptions Quick = new() { FirstDelay = TimeSpan.FromMilliseconds(20), Budget = TimeSpan.FromSeconds(20) };

    [Fact]
    public async Task Server_errors_and_dropped_connections_are_retried_until_an_answer()
    {
        var calls = 0;
        await using var upstream = LoopbackHttpServer.Start((context, _) =>
        {
            switch (Interlocked.Increment(ref calls))
            {
                case 1:
                    // The connection drops part-way through the answer.
                    context.Response.ContentLength64 = 1000;
                    context.Response.OutputStream.Write("{\"partial"u8);
                    context.Response.Abort();
                    return Task.CompletedTask;
                case 2:
                    context.Response.StatusCode = 502;
                    return LoopbackHttpServer.AnswerAsync(context, "text/plain", "bad gateway"u8.ToArray());
                default:
                    return LoopbackHttpServer.AnswerAsync(context, "application/json", """{"ok":true}"""u8.ToArray());
            }
        });

        var response = await Upstream(upstream, Quick).SendAsync(() => Get(upstream), CancellationToken.None);
        Assert.Equal(200, response.Status);
        Assert.Equal("""{"ok":true}""", Encoding.UTF8.GetString(response.Body));
        Assert.Equal(3, Volatile.Read(ref calls));
    }

    [Fact]
    public async Task Retry_after_is_honoured_when_reasonable_and_not_waited_for_when_it_is_not()
    {
        var calls = 0;
        await using var upstream = LoopbackHttpServer.Start((context, _) =>
        {
            var n = Interlocked.Increment(ref calls);
            if (context.Request.Url!.AbsolutePath == "/later" || n == 1)
            {
                context.Response.StatusCode = 429;
                context.Response.AddHeader("Retry-After", context.Request.Url.AbsolutePath == "/later" ? "3600" : "1");
                return LoopbackHttpServer.AnswerAsync(context, "text/plain", "slow down"u8.ToArray());
            }

            return LoopbackHttpServer.AnswerAsync(context, "text/plain", "fine"u8.ToArray());
        });

        var upstreamClient = Upstream(upstream, Quick);
        Assert.Equal("fine", Encoding.UTF8.GetString((await upstreamClient.SendAsync(() => Get(upstream), CancellationToken.None)).Body));
        Assert.Equal(2, Volatile.Read(ref calls));

        // An hour is not worth waiting for: the 429 comes back as it is, after one call.
        var later = await upstreamClient.SendAsync(() => Get(upstream, "/later"), CancellationToken.None);
        Assert.Equal(429, later.Status);
        Assert.Equal(TimeSpan.FromHours(1), later.RetryAfter);
        Assert.Equal(3, Volatile.Read(ref calls));
    }

    [Fact]
    public async Task An_upstream_that_keeps_failing_opens_the_circuit_and_is_not_called_while_it_is_open()
    {
        var calls = 0;
        await using var upstream = LoopbackHttpServer.Start((context, _) =>
        {
            Interlocked.Increment(ref calls);
            context.Response.StatusCode = 500;
            return LoopbackHttpServer.AnswerAsync(context, "text/plain", "down"u8.ToArray());
        });

        var upstreamClient = Upstream(upstream, Quick with { Retries = 0, BreakDuration = TimeSpan.FromMinutes(1) });
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(500, (await upstreamClient.SendAsync(() => Get(upstream), CancellationToken.None)).Status);
        }

        var paused = await Assert.ThrowsAsync<UpstreamException>(() => upstreamClient.SendAsync(() => Get(upstream), CancellationToken.None));
        Assert.Contains("calls to tickets are paused after repeated failures", paused.Message, StringComparison.Ordinal);
        Assert.True(paused.Transient);
        Assert.Equal(5, Volatile.Read(ref calls));
    }

    [Fact]
    public async Task What_the_guard_refuses_is_never_retried()
    {
        var resolved = 0;
        using var client = new UpstreamClient(new UpstreamPolicy { AllowedHosts = ["api.example.test"] }, (_, _) =>
        {
            Interlocked.Increment(ref resolved);
            return Task.FromResult(new[] { IPAddress.Parse("10.0.0.1") });
        });
        var upstream = new ResilientUpstream(client, "tickets", Quick);
        var error = await Assert.ThrowsAsync<UpstreamException>(() => upstream.SendAsync(() => new HttpRequestMessage(HttpMethod.Get, "http://api.example.test/"), CancellationToken.None));
        Assert.Contains("a private address", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, Volatile.Read(ref resolved));
    }

    private static ResilientUpstream Upstream(LoopbackHttpServer upstream, ResilienceOptions options) =>
        new(new UpstreamClient(new UpstreamPolicy { AllowedHosts = ["127.0.0.1"], AllowedRanges = [IPNetwork.Parse("127.0.0.1/32")] }), "tickets", options);

    private static HttpRequestMessage Get(LoopbackHttpServer upstream, string path = "/") => new(HttpMethod.Get, new Uri(upstream.BaseAddress, path));
}
