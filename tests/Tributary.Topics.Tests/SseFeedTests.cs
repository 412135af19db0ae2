using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Tributary.Testing;
using Tributary.Topics.Ingest;

namespace Tributary.Topics.Tests;

public sealed class SseFeedTests
{
    [Fact]
    public async Task A_dropped_feed_is_resumed_with_Last_Event_ID_and_loses_nothing_across_a_restart()
    {
        var lastEventIds = new ConcurrentQueue<string?>();

        // The upstream: the first connection sends events 1 to 3 and drops; a reconnect gets the two events after its id
        // and stays open.
        var upstream = LoopbackHttpServer.Start(ServeAsync);

        async Task ServeAsync(HttpListenerContext context, CancellationToken stop)
        {
                var after = int.TryParse(context.Request.Headers["Last-Event-ID"], out var id) ? id : 0;
                lastEventIds.Enqueue(context.Request.Headers["Last-Event-ID"]);
                context.Response.ContentType = "text/event-stream";
                context.Response.SendChunked = true;
                var body = new StringBuilder("retry: 100\n\n: a comment line\n\n");
                var last = after == 0 ? 3 : after + 2;
                for (var n = after + 1; n <= last; n++)
                {
                    body.Append(n % 2 == 0 ? $"id: {n}\nevent: order.paid\ndata: {{\"n\":{n}}}\n\n" : $"id: {n}\ndata: line {n}\ndata: continued\n\n");
                }

                var bytes = Encoding.UTF8.GetBytes(body.ToString());
                await context.Response.OutputStream.WriteAsync(bytes, stop);
                await context.Response.OutputStream.FlushAsync(stop);
                if (after == 0)
                {
                    context.Response.Abort();
                }
                else
                {
                    try
                    {
                        await Task.Delay(Timeout.Infinite, stop);
                    }
                    catch (OperationCanceledException)
                    {
                        context.Response.Abort();
                    }
                }
        }

        var directory = TestPaths.NewTempDirectory();
        await using var store = new SqliteEventStore(Path.Combine(directory, SqliteEventStore.FileName), new EventBus());
        var url = new Uri(upstream.BaseAddress, "feed");
        using (var feed = new SseFeed(url, "orders", store))
        {
            await feed.StartAsync(CancellationToken.None);
            await WaitForAsync(store, 5);
            Assert.Equal("5", feed.LastEventId);
            await feed.StopAsync(CancellationToken.None);
        }

        // Restarted: the new feed resumes from the id stored with the last event.
        using (var restarted = new SseFeed(url, "orders", store))
        {
            await restarted.StartAsync(CancellationToken.None);
            await WaitForAsync(store, 7);
            await restarted.StopAsync(CancellationToken.None);
        }

        await upstream.DisposeAsync();

        var events = await store.ReadAsync("orders", 0, 100, EventFilter.All, CancellationToken.None);
        Assert.Equal(7, events.Count);
        Assert.Equal("line 1\ncontinued", events[0].Data.GetProperty("message").GetString());
        Assert.Equal("message", events[0].Type);
        Assert.Equal(2, events[1].Data.GetProperty("n").GetInt32());
        Assert.Equal("order.paid", events[1].Type);
        Assert.Equal(4, events[3].Data.GetProperty("n").GetInt32());
        Assert.All(events, e => Assert.Equal("feed", e.Source));
        Assert.Equal(Enumerable.Range(1, 7), events.Select(e => e.Data.TryGetProperty("n", out var n) ? n.GetInt32() : int.Parse(e.Data.GetProperty("message").GetString()!.Split(' ', '\n')[1], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal([null, "3", "5"], lastEventIds);
    }

    private static async Task WaitForAsync(SqliteEventStore store, int count)
    {
        for (var attempt = 0; attempt < 400; attempt++)
        {
            if ((await store.ReadAsync("orders", 0, 100, EventFilter.All, CancellationToken.None)).Count >= count)
            {
                return;
            }

            await Task.Delay(50);
        }
    }
}
