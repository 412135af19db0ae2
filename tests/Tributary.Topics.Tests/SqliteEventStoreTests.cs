using System.Text.Json;
using Tributary.Testing;

namespace Tributary.Topics.Tests;

public sealed class SqliteEventStoreTests
{
    private static NewEvent Event(string topic, int n, Severity severity = Severity.Info) =>
        new(topic, n % 2 == 0 ? "even" : "odd", "test", severity, JsonElement.Parse($$"""{"n":{{n}},"message":"event number {{n}}"}"""));

    [Fact]
    public async Task Events_survive_a_restart_and_a_cursor_yields_each_later_event_exactly_once()
    {
        var path = Path.Combine(TestPaths.NewTempDirectory(), SqliteEventStore.FileName);
        var sequences = new List<long>();
        await using (var store = new SqliteEventStore(path, new EventBus()))
        {
            var appends = Enumerable.Range(1, 500).Select(n => store.AppendAsync(Event("orders", n), CancellationToken.None));
            sequences.AddRange((await Task.WhenAll(appends)).Select(e => e.Sequence));
        }

        Assert.Equal(sequences.Count, sequences.Distinct().Count());
        await using (var reopened = new SqliteEventStore(path, new EventBus()))
        {
            var all = await ReadAllAsync(reopened, "orders", 0);
            Assert.Equal(500, all.Count);
            Assert.Equal(sequences.Order(), all.Select(e => e.Sequence));
            Assert.Equal(Enumerable.Range(1, 500).ToHashSet(), all.Select(e => e.Data.GetProperty("n").GetInt32()).ToHashSet());

            var cursor = all[199].Sequence;
            var rest = await ReadAllAsync(reopened, "orders", cursor);
            Assert.Equal(all.Skip(200).Select(e => e.Sequence), rest.Select(e => e.Sequence));
            Assert.Equal(all[^1].Sequence, await reopened.LastSequenceAsync(CancellationToken.None));

            var next = await reopened.AppendAsync(Event("orders", 501), CancellationToken.None);
            Assert.True(next.Sequence > all[^1].Sequence);
        }
    }

    [Fact]
    public async Task Filters_keep_types_severity_fields_and_messages()
    {
        await using var store = new SqliteEventStore(Path.Combine(TestPaths.NewTempDirectory(), SqliteEventStore.FileName), new EventBus());
        for (var n = 1; n <= 2000; n++)
        {
            await store.AppendAsync(Event("logs", n, n % 100 == 0 ? Severity.Error : Severity.Info), CancellationToken.None);
        }

        var errors = await store.ReadAsync("logs", 0, 1000, new EventFilter { MinSeverity = Severity.Warning }, CancellationToken.None);
        Assert.Equal(20, errors.Count);
        var even = await store.ReadAsync("logs", 0, 1000, new EventFilter { Types = ["even"] }, CancellationToken.None);
        Assert.Equal(1000, even.Count);
        var field = await store.ReadAsync("logs", 0, 10, new EventFilter { Fields = new Dictionary<string, JsonElement> { ["n"] = JsonElement.Parse("1234") } }, CancellationToken.None);
        Assert.Equal(1234, Assert.Single(field).Data.GetProperty("n").GetInt32());
        var message = await store.ReadAsync("logs", 0, 10, new EventFilter { Message = EventFilter.Pattern("^event number 19\\d\\d$") }, CancellationToken.None);
        Assert.Equal(10, message.Count);
        var latest = await store.ReadLatestAsync("logs", 3, EventFilter.All, CancellationToken.None);
        Assert.Equal([1998, 1999, 2000], latest.Select(e => e.Data.GetProperty("n").GetInt32()));
    }

    [Fact]
    public async Task A_catastrophic_regular_expression_is_cut_at_the_match_timeout()
    {
        await using var store = new SqliteEventStore(Path.Combine(TestPaths.NewTempDirectory(), SqliteEventStore.FileName), new EventBus());
        await store.AppendAsync(new NewEvent("logs", "line", "test", Severity.Info, JsonElement.Parse($$"""{"message":"{{new string('a', 40)}}!"}""")), CancellationToken.None);
        var error = await Assert.ThrowsAsync<Core.ToolException>(() => store.ReadAsync("logs", 0, 10, new EventFilter { Message = EventFilter.Pattern("^(a+)+$") }, CancellationToken.None));
        Assert.Contains("was stopped", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retention_keeps_the_newest_events_of_a_topic()
    {
        var path = Path.Combine(TestPaths.NewTempDirectory(), SqliteEventStore.FileName);
        await using var store = new SqliteEventStore(path, new EventBus(), topic => topic == "small" ? new TopicRetention(50, TimeSpan.FromDays(1)) : TopicRetention.Default);
        await Task.WhenAll(Enumerable.Range(1, 1000).Select(n => store.AppendAsync(Event("small", n), CancellationToken.None)));
        await Task.WhenAll(Enumerable.Range(1, 100).Select(n => store.AppendAsync(Event("big", n), CancellationToken.None)));
        store.Prune("small");

        var small = await ReadAllAsync(store, "small", 0);
        Assert.Equal(50, small.Count);
        Assert.Equal(Enumerable.Range(951, 50), small.Select(e => e.Data.GetProperty("n").GetInt32()).Order());
        Assert.Equal(100, (await ReadAllAsync(store, "big", 0)).Count);
    }

    [Fact]
    public async Task Retention_drops_events_older_than_the_age_bound()
    {
        await using var store = new SqliteEventStore(Path.Combine(TestPaths.NewTempDirectory(), SqliteEventStore.FileName), new EventBus(), _ => new TopicRetention(1000, TimeSpan.FromMilliseconds(200)));
        await Task.WhenAll(Enumerable.Range(1, 20).Select(n => store.AppendAsync(Event("aged", n), CancellationToken.None)));
        await Task.Delay(400);
        var young = await store.AppendAsync(Event("aged", 21), CancellationToken.None);
        store.Prune("aged");
        Assert.Equal([young.Sequence], (await ReadAllAsync(store, "aged", 0)).Select(e => e.Sequence));

        await Task.Delay(400);
        store.Prune("aged");
        Assert.Empty(await ReadAllAsync(store, "aged", 0));
        store.Prune("empty");
    }

    [Fact]
    public async Task Readers_wake_on_appends_in_this_process_and_in_another_store_on_the_same_file()
    {
        var path = Path.Combine(TestPaths.NewTempDirectory(), SqliteEventStore.FileName);
        var bus = new EventBus();
        await using var store = new SqliteEventStore(path, bus);
        var last = await store.LastSequenceAsync(CancellationToken.None);

        var local = bus.WaitAsync("orders", last, TimeSpan.FromSeconds(30), CancellationToken.None);
        var appended = await store.AppendAsync(Event("orders", 1), CancellationToken.None);
        Assert.Equal(appended.Sequence, await local);

        // Another writer on the same file (as `tributary publish` is): noticed by the store's watcher.
        var other = bus.WaitAsync("orders", appended.Sequence, TimeSpan.FromSeconds(30), CancellationToken.None);
        await using (var second = new SqliteEventStore(path, new EventBus()))
        {
            await second.AppendAsync(Event("orders", 2), CancellationToken.None);
        }

        Assert.True(await other > appended.Sequence);
        Assert.Null(await bus.WaitAsync("orders", long.MaxValue - 1, TimeSpan.FromMilliseconds(50), CancellationToken.None));
    }

    private static async Task<List<TopicEvent>> ReadAllAsync(SqliteEventStore store, string topic, long after)
    {
        var all = new List<TopicEvent>();
        while (true)
        {
            var page = await store.ReadAsync(topic, after, 128, EventFilter.All, CancellationToken.None);
            if (page.Count == 0)
            {
                return all;
            }

            all.AddRange(page);
            after = page[^1].Sequence;
        }
    }
}
