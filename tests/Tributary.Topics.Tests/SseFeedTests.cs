using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Tributary.Testing;
using Tributary.Topics.Ingest;

namespace Tributary.Topics.Tests;

public sealed class SseFeedTests
{
    [Fact]
    public async Task A_dropped_feed_is_resumed_with_Last_Event_ID_and_loses_nothing()
    {
        var port = FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var lastEventIds = new ConcurrentQueue<string?>();
        using var stop = new CancellationTokenSource();

        // The upstream: the first connection sends events 1 to 3 and drops; a reconnect gets the events after its id.
        var upstream = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                var after = int.TryParse(context.Request.Headers["Last-Event-ID"], out var id) ? id : 0;
                lastEventIds.Enqueue(context.Request.Headers["Last-Event-ID"]);
                context.Response.ContentType = "text/event-stream";
                context.Response.SendChunked = true;
                var body = new StringBuilder("retry: 100\n\n: a comment line\n\n");
                var last = after == 0 ? 3 : 5;
                for (var n = after + 1; n <= last; n++)
                {
                    body.Append(n % 2 == 0 ? $"id: {n}\nevent: order.paid\ndata: {{\"n\":{n}}}\n\n" : $"id: {n}\ndata: line {n}\ndata: continued\n\n");
                }

                var bytes = Encoding.UTF8.GetBytes(body.ToString());
                await context.Response.OutputStream.WriteAsync(bytes);
                await context.Response.OutputStream.FlushAsync();
                if (after == 0)
                {
                    context.Response.Abort();
                }
                else
                {
                    try
                    {
                        await Task.Delay(Timeout.Infinite, stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        context.Response.Abort();
                    }
                }
            }
        });

        var directory = TestPaths.NewTempDirectory();
        await using var store = new SqliteEventStore(Path.Combine(directory, SqliteEventStore.FileName), new EventBus());
        using var feed = new SseFeed(new Uri($"http://127.0.0.1:{port}/feed"), "orders", store);
        await feed.StartAsync(CancellationToken.None);
        IReadOnlyList<TopicEvent> events = [];
        for (var attempt = 0; attempt < 200 && events.Count < 5; attempt++)
        {
            await Task.Delay(50);
            events = await store.ReadAsync("orders", 0, 100, EventFilter.All, CancellationToken.None);
        }

        await feed.StopAsync(CancellationToken.None);
        await stop.CancelAsync();
        listener.Stop();
        await upstream;

        Assert.Equal(5, events.Count);
        Assert.Equal("line 1\ncontinued", events[0].Data.GetProperty("message").GetString());
        Assert.Equal("message", events[0].Type);
        Assert.Equal(2, events[1].Data.GetProperty("n").GetInt32());
        Assert.Equal("order.paid", events[1].Type);
        Assert.Equal(4, events[3].Data.GetProperty("n").GetInt32());
        Assert.All(events, e => Assert.Equal("feed", e.Source));
        Assert.Equal([null, "3"], lastEventIds.Take(2));
        Assert.Equal("5", feed.LastEventId);
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
