using System.Buffers;
using System.Diagnostics;
using System.Text.Json;

namespace Tributary.Core.Queries;

/// <summary>
/// Streams rows straight into Tributary's compact result JSON:
/// <c>{columns:[{name,type}], rows:[[...]], row_count, truncated, next_cursor?, elapsed_ms}</c>.
/// </summary>
public sealed class QueryResultWriter : IDisposable
{
    private readonly Utf8JsonWriter _json;
    private readonly Func<int, string> _cursorForOffset;
    private readonly long _startTimestamp;
    private readonly bool _leaveOpen;

    /// <summary>
    /// Creates a writer into <paramref name="output"/>; <paramref name="cursorForOffset"/> makes the cursor of the next page
    /// from its offset. With <paramref name="leaveOpen"/>, the page ends before <c>elapsed_ms</c>, the object left open for
    /// <see cref="WriteEnd"/> (a cached page is kept so).
    /// </summary>
    public QueryResultWriter(IBufferWriter<byte> output, Func<int, string> cursorForOffset, long startTimestamp, bool leaveOpen = false)
    {
        _json = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true });
        _cursorForOffset = cursorForOffset;
        _startTimestamp = startTimestamp;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Ends a page written with <c>leaveOpen</c>: <c>,"cache":"hit"|"miss","elapsed_ms":N}</c>.</summary>
    public static void WriteEnd(IBufferWriter<byte> output, bool hit, long startTimestamp)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.Write(hit ? ",\"cache\":\"hit\",\"elapsed_ms\":"u8 : ",\"cache\":\"miss\",\"elapsed_ms\":"u8);
        var span = output.GetSpan(32);
        if (!System.Buffers.Text.Utf8Formatter.TryFormat(Math.Round(Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds, 2), span, out var written))
        {
            throw new InvalidOperationException("elapsed_ms did not fit its buffer");
        }

        span[written++] = (byte)'}';
        output.Advance(written);
    }

    /// <summary>
    /// Skips <paramref name="offset"/> rows (unless the source already did: <paramref name="offsetApplied"/>), writes up to
    /// <paramref name="maxRows"/> rows, ending the page early at the row that takes it past <paramref name="maxBytes"/>,
    /// and notes whether more remain.
    /// </summary>
    public async ValueTask WriteAsync(IRowReader reader, int offset, int maxRows, long maxBytes, CancellationToken cancellationToken, bool offsetApplied = false)
    {
        ArgumentNullException.ThrowIfNull(reader);
        for (var skipped = offsetApplied ? offset : 0; skipped < offset && await reader.ReadAsync(cancellationToken); skipped++)
        {
        }

        // The first row is read before the columns are written: a computed column's type comes from its value.
        var hasRow = maxRows > 0 && await reader.ReadAsync(cancellationToken);
        var columnCount = reader.FieldCount;
        _json.WriteStartObject();
        _json.WriteStartArray("columns"u8);
        for (var i = 0; i < columnCount; i++)
        {
            _json.WriteStartObject();
            _json.WriteString("name"u8, reader.GetName(i));
            _json.WriteString("type"u8, reader.GetTypeName(i));
            _json.WriteEndObject();
        }

        _json.WriteEndArray();
        _json.WriteStartArray("rows"u8);
        var rows = 0;
        var truncated = false;
        while (hasRow)
        {
            _json.WriteStartArray();
            for (var i = 0; i < columnCount; i++)
            {
                reader.WriteValue(i, _json);
            }

            _json.WriteEndArray();
            rows++;
            if (rows == maxRows || _json.BytesCommitted + _json.BytesPending > maxBytes)
            {
                // The page is full (row cap or size bound): one more read tells whether rows remain.
                truncated = await reader.ReadAsync(cancellationToken);
                break;
            }

            hasRow = await reader.ReadAsync(cancellationToken);
        }

        _json.WriteEndArray();
        _json.WriteNumber("row_count"u8, rows);
        _json.WriteBoolean("truncated"u8, truncated);
        if (truncated)
        {
            _json.WriteString("next_cursor"u8, _cursorForOffset(offset + rows));
        }

        if (!_leaveOpen)
        {
            _json.WriteNumber("elapsed_ms"u8, Math.Round(Stopwatch.GetElapsedTime(_startTimestamp).TotalMilliseconds, 2));
            _json.WriteEndObject();
        }

        _json.Flush();
    }

    /// <inheritdoc />
    public void Dispose() => _json.Dispose();
}
