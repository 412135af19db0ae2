using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Tributary.Topics;

/// <summary>
/// The embedded event store: one SQLite file (WAL). Appends are queued and written by one writer in batches of up to
/// 1,024 per transaction; each append completes once its batch is committed, then the bus is told. Retention runs
/// after every 1,000 appends. An event's ingest position (<see cref="NewEvent.Position"/>) is stored in the same
/// transaction. Appends by other processes (<c>tributary publish</c>) are noticed within 250 ms.
/// </summary>
public sealed class SqliteEventStore : IEventStore
{
    /// <summary>The file name inside the data directory.</summary>
    public const string FileName = "events.db";

    private const int MaxBatch = 1024;
    private const string Columns = "seq, topic, type, source, severity, time, data, trace_id";
    private static readonly string[] InsertParameters = ["$topic", "$type", "$source", "$severity", "$time", "$data", "$trace"];

    private readonly string _connectionString;
    private readonly IEventBus _bus;
    private readonly Func<string, TopicRetention> _retention;
    private readonly Channel<Pending> _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(65_536) { SingleReader = true });
    /// <summary>The meter of the topic store: <c>tributary.events.in</c>, events appended, by topic.</summary>
    public const string MeterName = "Tributary.Topics";

    private static readonly System.Diagnostics.Metrics.Meter Meter = new(MeterName);
    private static readonly System.Diagnostics.Metrics.Counter<long> EventsIn = Meter.CreateCounter<long>("tributary.events.in", "{event}", "Events appended to topics (every ingest path), by topic");

    private readonly SqliteConnection _writer;
    private readonly Task _writing;
    private readonly Timer _watcher;
    private readonly Dictionary<string, int> _sincePrune = new(StringComparer.Ordinal);
    private long _lastKnown;
    private int _watching;

    /// <summary>Opens (or creates) the store at <paramref name="path"/>, announcing new events on <paramref name="bus"/>.</summary>
    public SqliteEventStore(string path, IEventBus bus, Func<string, TopicRetention>? retention = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _bus = bus;
        _retention = retention ?? (_ => TopicRetention.Default);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true, DefaultTimeout = 5 }.ToString();
        _writer = new SqliteConnection(_connectionString);
        _writer.Open();
        Execute(_writer, """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            PRAGMA busy_timeout = 5000;
            CREATE TABLE IF NOT EXISTS events (
                seq      INTEGER PRIMARY KEY AUTOINCREMENT,
                topic    TEXT NOT NULL,
                type     TEXT NOT NULL,
                source   TEXT NOT NULL,
                severity INTEGER NOT NULL,
                time     TEXT NOT NULL,
                data     TEXT NOT NULL,
                trace_id TEXT
            );
            CREATE INDEX IF NOT EXISTS events_topic_seq ON events (topic, seq);
            CREATE TABLE IF NOT EXISTS positions (
                name  TEXT PRIMARY KEY,
                value TEXT NOT NULL
            );
            """);
        _lastKnown = LastSequence(_writer);
        _writing = Task.Run(WriteLoopAsync);
        _watcher = new Timer(_ => WatchOtherWriters(), null, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(250));
    }

    /// <inheritdoc />
    public async Task<TopicEvent> AppendAsync(NewEvent newEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(newEvent);
        // Times are kept to the microsecond, as stored, so an appended event equals the one read back.
        var now = DateTimeOffset.UtcNow;
        var pending = new Pending(newEvent, now.AddTicks(-(now.Ticks % 10)), new TaskCompletionSource<TopicEvent>(TaskCreationOptions.RunContinuationsAsynchronously));
        await _queue.Writer.WriteAsync(pending, cancellationToken);
        return await pending.Done.Task;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<TopicEvent>> ReadAsync(string topic, long after, int limit, EventFilter filter, CancellationToken cancellationToken) =>
        Task.Run<IReadOnlyList<TopicEvent>>(() => Read(topic, after, limit, filter, newest: false, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<TopicEvent>> ReadLatestAsync(string topic, int limit, EventFilter filter, CancellationToken cancellationToken) =>
        Task.Run<IReadOnlyList<TopicEvent>>(() => Read(topic, long.MaxValue, limit, filter, newest: true, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public Task<long> LastSequenceAsync(CancellationToken cancellationToken)
    {
        using var connection = Open();
        return Task.FromResult(LastSequence(connection));
    }

    /// <inheritdoc />
    public Task<string?> ReadPositionAsync(string name, CancellationToken cancellationToken)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT value FROM positions WHERE name = $name";
        command.Parameters.AddWithValue("$name", name);
        return Task.FromResult(command.ExecuteScalar() as string);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _watcher.DisposeAsync();
        _queue.Writer.TryComplete();
        await _writing;
        _writer.Dispose();
        SqliteConnection.ClearPool(new SqliteConnection(_connectionString));
    }

    private List<TopicEvent> Read(string topic, long after, int limit, EventFilter filter, bool newest, CancellationToken cancellationToken)
    {
        // Reads go in pages, so a selective filter still finds `limit` matches without loading the whole topic.
        var found = new List<TopicEvent>();
        using var connection = Open();
        var cursor = after;
        while (found.Count < limit)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var command = connection.CreateCommand();
            command.CommandText = newest
                ? $"SELECT {Columns} FROM events WHERE topic = $topic AND seq < $cursor ORDER BY seq DESC LIMIT 500"
                : $"SELECT {Columns} FROM events WHERE topic = $topic AND seq > $cursor ORDER BY seq LIMIT 500";
            command.Parameters.AddWithValue("$topic", topic);
            command.Parameters.AddWithValue("$cursor", cursor);
            var page = 0;
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read() && found.Count < limit)
                {
                    page++;
                    var e = Event(reader);
                    cursor = e.Sequence;
                    if (filter.Matches(e))
                    {
                        found.Add(e);
                    }
                }
            }

            if (page < 500)
            {
                break;
            }
        }

        if (newest)
        {
            found.Reverse();
        }

        return found;
    }

    private async Task WriteLoopAsync()
    {
        using var insert = _writer.CreateCommand();
        insert.CommandText = "INSERT INTO events (topic, type, source, severity, time, data, trace_id) VALUES ($topic, $type, $source, $severity, $time, $data, $trace) RETURNING seq";
        var parameters = InsertParameters.Select(n => insert.Parameters.Add(new SqliteParameter { ParameterName = n })).ToArray();
        insert.Prepare();
        using var position = _writer.CreateCommand();
        position.CommandText = "INSERT INTO positions (name, value) VALUES ($name, $value) ON CONFLICT (name) DO UPDATE SET value = excluded.value";
        var positionName = position.Parameters.Add(new SqliteParameter { ParameterName = "$name" });
        var positionValue = position.Parameters.Add(new SqliteParameter { ParameterName = "$value" });
        position.Prepare();
        var batch = new List<(Pending Pending, long Sequence)>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            try
            {
                using var transaction = _writer.BeginTransaction();
                insert.Transaction = transaction;
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var pending))
                {
                    var e = pending.Event;
                    parameters[0].Value = e.Topic;
                    parameters[1].Value = e.Type;
                    parameters[2].Value = e.Source;
                    parameters[3].Value = (int)e.Severity;
                    parameters[4].Value = TopicEvent.FormatTime(pending.Time);
                    parameters[5].Value = e.Data.GetRawText();
                    parameters[6].Value = (object?)e.TraceId ?? DBNull.Value;
                    batch.Add((pending, (long)insert.ExecuteScalar()!));
                    if (e.Position is { } at)
                    {
                        position.Transaction = transaction;
                        positionName.Value = at.Name;
                        positionValue.Value = at.Value;
                        position.ExecuteNonQuery();
                    }
                }

                transaction.Commit();
            }
            catch (SqliteException error)
            {
                foreach (var (pending, _) in batch)
                {
                    pending.Done.TrySetException(new IOException($"the event store could not append: {error.Message}", error));
                }

                continue;
            }

            foreach (var (pending, sequence) in batch)
            {
                var e = pending.Event;
                pending.Done.TrySetResult(new TopicEvent(sequence, e.Topic, e.Type, e.Source, e.Severity, pending.Time, e.Data, e.TraceId));
            }

            Volatile.Write(ref _lastKnown, Math.Max(Volatile.Read(ref _lastKnown), batch[^1].Sequence));
            foreach (var group in batch.GroupBy(b => b.Pending.Event.Topic, StringComparer.Ordinal))
            {
                _bus.Announce(group.Key, group.Max(b => b.Sequence));
                EventsIn.Add(group.Count(), new KeyValuePair<string, object?>("topic", group.Key));
                _sincePrune[group.Key] = _sincePrune.GetValueOrDefault(group.Key) + group.Count();
                if (_sincePrune[group.Key] >= 1000)
                {
                    _sincePrune[group.Key] = 0;
                    Prune(group.Key);
                }
            }
        }
    }

    /// <summary>Drops a topic's events beyond its retention: the oldest past the count, and those past the age.</summary>
    internal void Prune(string topic)
    {
        var retention = _retention(topic);
        using var command = _writer.CreateCommand();
        // Both bounds walk the (topic, seq) index from one end and stop early: the count from the newest end, the age
        // from the oldest end up to the first event still young (events are appended in time order).
        command.CommandText = """
            DELETE FROM events WHERE topic = $topic AND seq < max(
                coalesce((SELECT seq FROM events WHERE topic = $topic ORDER BY seq DESC LIMIT 1 OFFSET $keep), 0) + 1,
                coalesce(
                    (SELECT seq FROM events WHERE topic = $topic AND time >= $oldest ORDER BY seq LIMIT 1),
                    (SELECT max(seq) + 1 FROM events WHERE topic = $topic),
                    0))
            """;
        command.Parameters.AddWithValue("$topic", topic);
        command.Parameters.AddWithValue("$keep", retention.MaxEvents);
        command.Parameters.AddWithValue("$oldest", TopicEvent.FormatTime(DateTimeOffset.UtcNow - retention.MaxAge));
        command.ExecuteNonQuery();
    }

    private void WatchOtherWriters()
    {
        if (Interlocked.Exchange(ref _watching, 1) == 1)
        {
            return;
        }

        try
        {
            using var connection = Open();
            var known = Volatile.Read(ref _lastKnown);
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT topic, max(seq) FROM events WHERE seq > $known GROUP BY topic";
            command.Parameters.AddWithValue("$known", known);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var sequence = reader.GetInt64(1);
                _bus.Announce(reader.GetString(0), sequence);
                known = Math.Max(known, sequence);
            }

            Volatile.Write(ref _lastKnown, Math.Max(Volatile.Read(ref _lastKnown), known));
        }
        catch (SqliteException)
        {
            // Busy or closing: the next tick looks again.
        }
        finally
        {
            Volatile.Write(ref _watching, 0);
        }
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    private static long LastSequence(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)";
        return (long)command.ExecuteScalar()!;
    }

    private static TopicEvent Event(SqliteDataReader reader) => new(
        reader.GetInt64(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.GetString(3),
        (Severity)reader.GetInt32(4),
        DateTimeOffset.Parse(reader.GetString(5), CultureInfo.InvariantCulture),
        JsonElement.Parse(reader.GetString(6)),
        reader.IsDBNull(7) ? null : reader.GetString(7));

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private sealed record Pending(NewEvent Event, DateTimeOffset Time, TaskCompletionSource<TopicEvent> Done);
}
