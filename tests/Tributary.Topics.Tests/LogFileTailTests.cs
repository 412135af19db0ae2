using Tributary.Testing;
using Tributary.Topics.Ingest;

namespace Tributary.Topics.Tests;

public sealed class LogFileTailTests
{
    [Theory]
    [InlineData("""{"level":"error","message":"disk full","service":"db"}""", Severity.Error, "disk full")]
    [InlineData("""{"severity":"WARN","msg":"slow"}""", Severity.Warning, null)]
    [InlineData("ts=2026-01-01T00:00:00Z level=warn msg=\"retrying\"", Severity.Warning, "ts=2026-01-01T00:00:00Z level=warn msg=\"retrying\"")]
    [InlineData("2026-01-01 00:00:00 [ERROR] payment gateway timeout", Severity.Error, "2026-01-01 00:00:00 [ERROR] payment gateway timeout")]
    [InlineData("FATAL: out of memory", Severity.Critical, "FATAL: out of memory")]
    [InlineData("2026-01-01 12:00:01 DEBUG cache refreshed", Severity.Debug, "2026-01-01 12:00:01 DEBUG cache refreshed")]
    [InlineData("user said the word error in passing", Severity.Info, "user said the word error in passing")]
    [InlineData("{not json", Severity.Info, "{not json")]
    public void Severity_is_read_from_common_formats(string line, Severity severity, string? message)
    {
        var (parsed, data) = LogLine.Parse(line);
        Assert.Equal(severity, parsed);
        if (message is not null)
        {
            Assert.Equal(message, data.GetProperty("message").GetString());
        }
    }

    [Fact]
    public async Task New_lines_become_events_across_truncation_and_rotation_each_exactly_once()
    {
        var directory = TestPaths.NewTempDirectory();
        var log = Path.Combine(directory, "app.log");
        await File.WriteAllTextAsync(log, "old line before the tail started\n");
        await using var store = new SqliteEventStore(Path.Combine(directory, SqliteEventStore.FileName), new EventBus());
        using var tail = new LogFileTail(log, "logs", store);
        await tail.StartAsync(CancellationToken.None);
        try
        {
            await tail.Positioned.WaitAsync(TimeSpan.FromSeconds(30));
            await File.AppendAllTextAsync(log, "[INFO] one\n[ERROR] two\npartial");
            await WaitForAsync(store, 2);
            await File.AppendAllTextAsync(log, " three\n");
            await WaitForAsync(store, 3);

            // Truncated in place (copytruncate): what follows is read from the top.
            await File.WriteAllTextAsync(log, "[WARN] four\n");
            await WaitForAsync(store, 4);

            // Rotated by rename: the old file's last line is read, then the new file from its start.
            await File.AppendAllTextAsync(log, "five\n");
            File.Move(log, log + ".1");
            await File.WriteAllTextAsync(log, "six, in the new file\n");
            await WaitForAsync(store, 6);
            await File.AppendAllTextAsync(log, "seven\n");
            await WaitForAsync(store, 7);
        }
        finally
        {
            await tail.StopAsync(CancellationToken.None);
        }

        var events = await store.ReadAsync("logs", 0, 100, EventFilter.All, CancellationToken.None);
        Assert.Equal(
            ["[INFO] one", "[ERROR] two", "partial three", "[WARN] four", "five", "six, in the new file", "seven"],
            events.Select(e => e.Data.GetProperty("message").GetString()));
        Assert.Equal([Severity.Info, Severity.Error, Severity.Info, Severity.Warning, Severity.Info, Severity.Info, Severity.Info], events.Select(e => e.Severity));
        Assert.All(events, e => Assert.Equal("tail", e.Source));
    }

    [Fact]
    public async Task A_restarted_tail_reads_the_lines_written_while_it_was_down_once()
    {
        var directory = TestPaths.NewTempDirectory();
        var log = Path.Combine(directory, "app.log");
        await File.WriteAllTextAsync(log, "before the first start\n");
        await using var store = new SqliteEventStore(Path.Combine(directory, SqliteEventStore.FileName), new EventBus());

        await RunTailAsync(log, store, async () =>
        {
            await File.AppendAllTextAsync(log, "one\ntwo\n");
            await WaitForAsync(store, 2);
        });

        // Down: two more lines (one of them with characters of several bytes), then up again.
        await File.AppendAllTextAsync(log, "three: naïve café\nfour\n");
        await RunTailAsync(log, store, async () =>
        {
            await WaitForAsync(store, 4);
            await File.AppendAllTextAsync(log, "five\n");
            await WaitForAsync(store, 5);
        });

        // Down, and the file is rotated meanwhile: the new file is read from its start.
        File.Move(log, log + ".1");
        await File.WriteAllTextAsync(log, "six, in the new file\n");
        await RunTailAsync(log, store, () => WaitForAsync(store, 6));

        var events = await store.ReadAsync("logs", 0, 100, EventFilter.All, CancellationToken.None);
        Assert.Equal(["one", "two", "three: naïve café", "four", "five", "six, in the new file"], events.Select(e => e.Data.GetProperty("message").GetString()));
    }

    private static async Task RunTailAsync(string log, SqliteEventStore store, Func<Task> body)
    {
        using var tail = new LogFileTail(log, "logs", store);
        await tail.StartAsync(CancellationToken.None);
        try
        {
            await tail.Positioned.WaitAsync(TimeSpan.FromSeconds(30));
            await body();
        }
        finally
        {
            await tail.StopAsync(CancellationToken.None);
        }
    }

    private static async Task WaitForAsync(SqliteEventStore store, int count)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if ((await store.ReadAsync("logs", 0, 100, EventFilter.All, CancellationToken.None)).Count >= count)
            {
                return;
            }

            await Task.Delay(50);
        }
    }
}
