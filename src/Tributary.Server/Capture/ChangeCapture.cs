using System.Buffers;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tributary.Core.Configuration;
using Tributary.Sources.Sql.Postgres;
using Tributary.Sources.Sql.Sqlite;
using Tributary.Topics;

namespace Tributary.Server.Capture;

/// <summary>
/// Change capture of one source into its topics, whatever the database: triggers write each change of a captured table
/// into a change table (so writes by any program are seen), and this service reads that table in order, appends each
/// change to its table's topic as a <c>{table, op, change_id, at, row}</c> event of type <c>table.op</c>, and deletes
/// the rows its topics hold. On start it resumes after the newest change each topic already holds, so a restart
/// neither loses nor repeats a change; a failure (a dropped connection, a database that is down, rights that are
/// missing) is logged and retried with backoff, and the read resumes where it stopped.
/// </summary>
internal abstract partial class ChangeCapture(SourceConfig source, IEventStore store, ILogger logger) : BackgroundService
{
    /// <summary>Most changes read (and appended) per round trip.</summary>
    public const int BatchSize = 500;

    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    private readonly Dictionary<string, string> _topics = source.Captures.ToDictionary(c => c.Table, c => c.Topic, StringComparer.OrdinalIgnoreCase);

    /// <summary>The newest change each topic holds.</summary>
    private readonly Dictionary<string, ChangePosition> _delivered = new(StringComparer.Ordinal);

    /// <summary>The newest change read: every change up to it is in its topic (or belongs to no captured table).</summary>
    private ChangePosition? _position;

    /// <summary>The position up to which the change table was last pruned; null before the first prune of this run.</summary>
    private ChangePosition? _pruned;

    /// <summary>The source whose tables are captured.</summary>
    protected SourceConfig Source => source;

    /// <summary>Told the tables of each batch of changes read (the result cache drops what read them); null for no one.</summary>
    public Func<IReadOnlyCollection<string>, ValueTask>? TablesChanged { get; set; }

    /// <summary>The event source of the captured changes: <c>capture:&lt;source&gt;</c>.</summary>
    public string EventSource => $"capture:{source.Name}";

    /// <summary>True when changes are ordered by their writing transaction first, whose id the events then carry as <c>txid</c>.</summary>
    protected abstract bool OrdersByTransaction { get; }

    /// <summary>
    /// Connects to the database, installs the change table and triggers the configuration asks for (the first time),
    /// and returns the open feed. A problem the operator must fix is a <see cref="CaptureSetupException"/>.
    /// </summary>
    protected abstract Task<IChangeFeed> OpenAsync(CancellationToken cancellationToken);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = FirstRetryDelay;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var feed = await OpenAsync(stoppingToken);
                _position ??= await ResumeAsync(stoppingToken);
                while (true)
                {
                    await CatchUpAsync(feed, stoppingToken);
                    delay = FirstRetryDelay;
                    await feed.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (CaptureSetupException e)
            {
                LogSetupFailed(logger, source.Name, e.Message, (long)delay.TotalMilliseconds);
            }
            catch (Exception e)
            {
                // Whatever failed (the connection, the database, the event store), the capture must not stop the server:
                // it starts over from the last position, which is never past a change that is not in its topic.
                LogFailed(logger, source.Name, e.GetType().Name, e.Message, (long)delay.TotalMilliseconds);
            }

            try
            {
                await Task.Delay(delay + TimeSpan.FromMilliseconds(Random.Shared.Next((int)(delay.TotalMilliseconds / 4) + 1)), stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(MaxRetryDelay.Ticks, delay.Ticks * 2));
        }
    }

    /// <summary>The newest change each topic holds (from its newest event from this capture); reading starts after the oldest of them.</summary>
    private async Task<ChangePosition> ResumeAsync(CancellationToken cancellationToken)
    {
        foreach (var topic in _topics.Values.Distinct(StringComparer.Ordinal))
        {
            var latest = await store.ReadLatestAsync(topic, 1, new EventFilter { Source = EventSource }, cancellationToken);
            _delivered[topic] = latest.Count == 1 ? Position(latest[0].Data) : default;
        }

        return _delivered.Values.DefaultIfEmpty().Min();
    }

    /// <summary>Appends every change there is to its topic, a batch at a time, and deletes what the topics now hold.</summary>
    private async Task CatchUpAsync(IChangeFeed feed, CancellationToken cancellationToken)
    {
        var position = _position ?? default;
        IReadOnlyList<CapturedChange> changes;
        do
        {
            changes = await feed.ReadAsync(position, BatchSize, cancellationToken);
            foreach (var change in changes)
            {
                if (_topics.TryGetValue(change.Table, out var topic) && change.Position > _delivered.GetValueOrDefault(topic))
                {
                    await store.AppendAsync(new NewEvent(topic, $"{change.Table}.{change.Operation}", EventSource, Severity.Info, Data(change)), cancellationToken);
                    _delivered[topic] = change.Position;
                }

                _position = position = change.Position;
            }

            if (changes.Count > 0 && TablesChanged is { } changed)
            {
                await changed(changes.Select(c => c.Table).Distinct(StringComparer.OrdinalIgnoreCase).ToArray());
            }
        }
        while (changes.Count == BatchSize);

        if (position != default && (_pruned is not { } pruned || position > pruned))
        {
            // The first prune of a run also deletes what an earlier run delivered but did not delete.
            await feed.PruneAsync(position, cancellationToken);
            _pruned = position;
        }
    }

    /// <summary>The event's data: <c>{table, op, change_id, txid?, at, row}</c>.</summary>
    private JsonElement Data(CapturedChange change)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + change.Row.Length);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("table", change.Table);
            json.WriteString("op", change.Operation);
            json.WriteNumber("change_id", change.Position.Id);
            if (OrdersByTransaction)
            {
                json.WriteNumber("txid", change.Position.Transaction);
            }

            json.WriteString("at", change.At);
            json.WritePropertyName("row");
            json.WriteRawValue(change.Row);
            json.WriteEndObject();
        }

        return JsonElement.Parse(buffer.WrittenSpan);
    }

    private static ChangePosition Position(JsonElement data) => new(
        data.TryGetProperty("txid", out var txid) && txid.ValueKind == JsonValueKind.Number ? txid.GetInt64() : 0,
        data.TryGetProperty("change_id", out var id) && id.ValueKind == JsonValueKind.Number ? id.GetInt64() : 0);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Error, Message = "Change capture of source {Source} cannot start: {Problem}; trying again in {DelayMs} ms")]
    private static partial void LogSetupFailed(ILogger logger, string source, string problem, long delayMs);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "Change capture of source {Source} stopped ({Error}: {Reason}); resuming in {DelayMs} ms")]
    private static partial void LogFailed(ILogger logger, string source, string error, string reason, long delayMs);
}

/// <summary>Makes the change capture service of a source, by its kind.</summary>
internal static class ChangeCaptures
{
    /// <summary>The capture of <paramref name="source"/>'s configured tables into their topics.</summary>
    public static ChangeCapture Create(SourceConfig source, TributaryConfig config, IServiceProvider services)
    {
        var store = services.GetRequiredService<IEventStore>();
        var loggers = services.GetRequiredService<ILoggerFactory>();
        ChangeCapture capture = source.Kind switch
        {
            SqliteProvider.KindName => new SqliteChangeCapture(
                source, Path.GetFullPath(source.Settings["path"], config.BaseDirectory), store, loggers.CreateLogger<SqliteChangeCapture>()),
            PostgresProvider.KindName => new PostgresChangeCapture(
                source, source.Settings["connection_string"], PostgresProvider.Schemas(source)[0], store, loggers.CreateLogger<PostgresChangeCapture>()),
            _ => throw new InvalidOperationException($"change capture is not available for {source.Kind} sources"),
        };
        var results = services.GetRequiredService<Caching.QueryResultCache>();
        capture.TablesChanged = tables => results.TablesChangedAsync(source.Name, tables);
        return capture;
    }
}

/// <summary>Where a change stands in its change table: its writing transaction (PostgreSQL; 0 in SQLite), then its id.</summary>
internal readonly record struct ChangePosition(long Transaction, long Id) : IComparable<ChangePosition>
{
    /// <inheritdoc />
    public int CompareTo(ChangePosition other) => Transaction != other.Transaction ? Transaction.CompareTo(other.Transaction) : Id.CompareTo(other.Id);

    /// <summary>True when <paramref name="left"/> comes before <paramref name="right"/>.</summary>
    public static bool operator <(ChangePosition left, ChangePosition right) => left.CompareTo(right) < 0;

    /// <summary>True when <paramref name="left"/> comes after <paramref name="right"/>.</summary>
    public static bool operator >(ChangePosition left, ChangePosition right) => left.CompareTo(right) > 0;

    /// <summary>True when <paramref name="left"/> is <paramref name="right"/> or comes before it.</summary>
    public static bool operator <=(ChangePosition left, ChangePosition right) => left.CompareTo(right) <= 0;

    /// <summary>True when <paramref name="left"/> is <paramref name="right"/> or comes after it.</summary>
    public static bool operator >=(ChangePosition left, ChangePosition right) => left.CompareTo(right) >= 0;
}

/// <summary>One row of a change table: where it stands, the table and operation, when (ISO 8601, UTC), and the row as JSON.</summary>
internal sealed record CapturedChange(ChangePosition Position, string Table, string Operation, string At, string Row);

/// <summary>An open connection to a source's change table.</summary>
internal interface IChangeFeed : IAsyncDisposable
{
    /// <summary>Up to <paramref name="limit"/> changes after <paramref name="after"/>, in order; only changes no earlier one can still join.</summary>
    Task<IReadOnlyList<CapturedChange>> ReadAsync(ChangePosition after, int limit, CancellationToken cancellationToken);

    /// <summary>Deletes the changes up to <paramref name="through"/> (all delivered), a batch at a time.</summary>
    Task PruneAsync(ChangePosition through, CancellationToken cancellationToken);

    /// <summary>Returns when new changes may be there: on a notification, or after the poll interval.</summary>
    Task WaitAsync(CancellationToken cancellationToken);
}

/// <summary>Capture cannot be set up until the operator changes something (a table, a column, a right): the message says what.</summary>
internal sealed class CaptureSetupException(string message) : Exception(message);
