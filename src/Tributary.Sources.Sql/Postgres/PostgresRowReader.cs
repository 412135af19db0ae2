using System.Collections;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Npgsql;
using Tributary.Core.Queries;

namespace Tributary.Sources.Sql.Postgres;

/// <summary>
/// Reads an Npgsql result and writes each value to JSON with the typed getter its column needs, chosen once per column:
/// timestamps keep their microseconds, numerics stay numbers, enums and text are strings, json and jsonb are embedded.
/// </summary>
internal sealed class PostgresRowReader(NpgsqlDataReader reader) : IRowReader
{
    private Action<NpgsqlDataReader, int, Utf8JsonWriter>[]? _writers;

    public int FieldCount => reader.FieldCount;

    public string GetName(int ordinal) => reader.GetName(ordinal);

    public string GetTypeName(int ordinal) => reader.GetDataTypeName(ordinal);

    public async ValueTask<bool> ReadAsync(CancellationToken cancellationToken) => await reader.ReadAsync(cancellationToken);

    public void WriteValue(int ordinal, Utf8JsonWriter json)
    {
        if (reader.IsDBNull(ordinal))
        {
            json.WriteNullValue();
            return;
        }

        _writers ??= Enumerable.Range(0, reader.FieldCount).Select(WriterFor).ToArray();
        _writers[ordinal](reader, ordinal, json);
    }

    private Action<NpgsqlDataReader, int, Utf8JsonWriter> WriterFor(int ordinal)
    {
        var typeName = reader.GetDataTypeName(ordinal);
        if (typeName is "json" or "jsonb")
        {
            return static (r, i, json) => json.WriteRawValue(r.GetString(i), skipInputValidation: true);
        }

        var type = reader.GetFieldType(ordinal);
        return Type.GetTypeCode(type) switch
        {
            TypeCode.Boolean => static (r, i, json) => json.WriteBooleanValue(r.GetBoolean(i)),
            TypeCode.Int16 => static (r, i, json) => json.WriteNumberValue(r.GetInt16(i)),
            TypeCode.Int32 => static (r, i, json) => json.WriteNumberValue(r.GetInt32(i)),
            TypeCode.Int64 => static (r, i, json) => json.WriteNumberValue(r.GetInt64(i)),
            TypeCode.UInt32 => static (r, i, json) => json.WriteNumberValue(r.GetFieldValue<uint>(i)),
            TypeCode.Single or TypeCode.Double => static (r, i, json) => WriteDouble(json, r.GetDouble(i)),
            TypeCode.Decimal => WriteDecimal,
            TypeCode.String => static (r, i, json) => json.WriteStringValue(r.GetString(i)),
            TypeCode.DateTime => static (r, i, json) => json.WriteStringValue(r.GetDateTime(i)),
            _ when type == typeof(Guid) => static (r, i, json) => json.WriteStringValue(r.GetGuid(i)),
            _ when type == typeof(DateOnly) => static (r, i, json) => json.WriteStringValue(r.GetFieldValue<DateOnly>(i).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
            _ when type == typeof(TimeOnly) => static (r, i, json) => json.WriteStringValue(r.GetFieldValue<TimeOnly>(i).ToString("HH:mm:ss.FFFFFF", CultureInfo.InvariantCulture)),
            _ when type == typeof(DateTimeOffset) => static (r, i, json) => json.WriteStringValue(r.GetFieldValue<DateTimeOffset>(i)),
            _ when type == typeof(byte[]) => static (r, i, json) => json.WriteBase64StringValue(r.GetFieldValue<byte[]>(i)),
            _ => static (r, i, json) => WriteObject(json, r.GetValue(i)),
        };
    }

    private static void WriteDecimal(NpgsqlDataReader reader, int ordinal, Utf8JsonWriter json)
    {
        decimal value;
        try
        {
            value = reader.GetDecimal(ordinal);
        }
        catch (InvalidCastException)
        {
            // NaN, infinity, or more digits than decimal holds.
            WriteDouble(json, reader.GetDouble(ordinal));
            return;
        }

        json.WriteNumberValue(value);
    }

    private static void WriteDouble(Utf8JsonWriter json, double value)
    {
        if (double.IsFinite(value))
        {
            json.WriteNumberValue(value);
        }
        else
        {
            json.WriteStringValue(value.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Values without a dedicated getter (arrays, ranges, network and other types), by their runtime type.</summary>
    private static void WriteObject(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null or DBNull:
                json.WriteNullValue();
                break;
            case string s:
                json.WriteStringValue(s);
                break;
            case bool b:
                json.WriteBooleanValue(b);
                break;
            case short or int or long or byte or sbyte or ushort or uint:
                json.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case decimal m:
                json.WriteNumberValue(m);
                break;
            case float or double:
                WriteDouble(json, Convert.ToDouble(value, CultureInfo.InvariantCulture));
                break;
            case DateTime d:
                json.WriteStringValue(d);
                break;
            case DateTimeOffset o:
                json.WriteStringValue(o);
                break;
            case DateOnly date:
                json.WriteStringValue(date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                break;
            case Guid g:
                json.WriteStringValue(g);
                break;
            case byte[] bytes:
                json.WriteBase64StringValue(bytes);
                break;
            case IPAddress address:
                json.WriteStringValue(address.ToString());
                break;
            case IEnumerable items:
                json.WriteStartArray();
                foreach (var item in items)
                {
                    WriteObject(json, item);
                }

                json.WriteEndArray();
                break;
            default:
                json.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }
}
