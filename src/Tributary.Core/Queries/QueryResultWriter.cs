using System.Buffers;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Tributary.Core.Queries;

/// <summary>
/// Streams a data reader straight into Tributary's compact result JSON:
/// <c>{columns:[{name,type}], rows:[[...]], row_count, truncated, next_cursor?, elapsed_ms}</c>.
/// </summary>
public sealed class QueryResultWriter : IDisposable
{
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);
    private readonly Utf8JsonWriter _json;
    private readonly Func<int, string> _cursorForOffset;
    private readonly long _startTimestamp;

    /// <summary>Creates a writer; <paramref name="cursorForOffset"/> makes the cursor of the next page from its offset.</summary>
    public QueryResultWriter(Func<int, string> cursorForOffset, long startTimestamp)
    {
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });
        _cursorForOffset = cursorForOffset;
        _startTimestamp = startTimestamp;
    }

    /// <summary>Rows written by <see cref="WriteAsync"/>.</summary>
    public int RowCount { get; private set; }

    /// <summary>True when more rows remain after this page.</summary>
    public bool Truncated { get; private set; }

    /// <summary>The UTF-8 JSON written so far.</summary>
    public ReadOnlyMemory<byte> Json => _buffer.WrittenMemory;

    /// <summary>Skips <paramref name="offset"/> rows, writes up to <paramref name="maxRows"/>, and notes whether more remain.</summary>
    public async Task WriteAsync(DbDataReader reader, int offset, int maxRows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var columnCount = reader.FieldCount;
        _json.WriteStartObject();
        _json.WriteStartArray("columns"u8);
        for (var i = 0; i < columnCount; i++)
        {
            _json.WriteStartObject();
            _json.WriteString("name"u8, reader.GetName(i));
            _json.WriteString("type"u8, reader.GetDataTypeName(i));
            _json.WriteEndObject();
        }

        _json.WriteEndArray();
        _json.WriteStartArray("rows"u8);
        for (var skipped = 0; skipped < offset && await reader.ReadAsync(cancellationToken); skipped++)
        {
        }

        var rows = 0;
        while (rows < maxRows && await reader.ReadAsync(cancellationToken))
        {
            _json.WriteStartArray();
            for (var i = 0; i < columnCount; i++)
            {
                WriteValue(reader, i);
            }

            _json.WriteEndArray();
            rows++;
        }

        _json.WriteEndArray();
        RowCount = rows;
        Truncated = rows == maxRows && await reader.ReadAsync(cancellationToken);
        _json.WriteNumber("row_count"u8, rows);
        _json.WriteBoolean("truncated"u8, Truncated);
        if (Truncated)
        {
            _json.WriteString("next_cursor"u8, _cursorForOffset(offset + rows));
        }

        _json.WriteNumber("elapsed_ms"u8, Math.Round(Stopwatch.GetElapsedTime(_startTimestamp).TotalMilliseconds, 2));
        _json.WriteEndObject();
        await _json.FlushAsync(cancellationToken);
    }

    private void WriteValue(DbDataReader reader, int i)
    {
        if (reader.IsDBNull(i))
        {
            _json.WriteNullValue();
            return;
        }

        var type = reader.GetFieldType(i);
        if (type == typeof(long))
        {
            _json.WriteNumberValue(reader.GetInt64(i));
        }
        else if (type == typeof(string))
        {
            _json.WriteStringValue(reader.GetString(i));
        }
        else if (type == typeof(int))
        {
            _json.WriteNumberValue(reader.GetInt32(i));
        }
        else if (type == typeof(double))
        {
            var value = reader.GetDouble(i);
            if (double.IsFinite(value))
            {
                _json.WriteNumberValue(value);
            }
            else
            {
                _json.WriteStringValue(value.ToString(CultureInfo.InvariantCulture));
            }
        }
        else if (type == typeof(bool))
        {
            _json.WriteBooleanValue(reader.GetBoolean(i));
        }
        else if (type == typeof(byte[]))
        {
            _json.WriteBase64StringValue(reader.GetFieldValue<byte[]>(i));
        }
        else
        {
            WriteOther(reader.GetValue(i));
        }
    }

    private void WriteOther(object value)
    {
        switch (value)
        {
            case short s: _json.WriteNumberValue(s); break;
            case byte b: _json.WriteNumberValue(b); break;
            case float f when float.IsFinite(f): _json.WriteNumberValue(f); break;
            case decimal d: _json.WriteNumberValue(d); break;
            case DateTime dt: _json.WriteStringValue(dt); break;
            case DateTimeOffset dto: _json.WriteStringValue(dto); break;
            case Guid g: _json.WriteStringValue(g); break;
            case IFormattable f: _json.WriteStringValue(f.ToString(null, CultureInfo.InvariantCulture)); break;
            default: _json.WriteStringValue(value.ToString()); break;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _json.Dispose();
}
