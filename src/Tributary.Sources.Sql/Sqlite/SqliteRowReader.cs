using System.Globalization;
using System.Text;
using System.Text.Unicode;
using System.Text.Json;
using SQLitePCL;
using Tributary.Core.Queries;

namespace Tributary.Sources.Sql.Sqlite;

/// <summary>Reads a prepared SQLite statement's rows and writes each value to JSON without boxing or copying strings.</summary>
/// <remarks><paramref name="firstStep"/> is the result of a first step the caller already took (to retry a locked database before any row is written).</remarks>
internal sealed class SqliteRowReader(SqliteStatement prepared, Func<int, Exception> stepError, int firstStep) : IRowReader
{
    private const int NoStep = -1;
    private readonly sqlite3_stmt statement = prepared.Handle;
    private int _pending = firstStep;

    public int FieldCount
    {
        get
        {
            prepared.Refresh();
            return prepared.Names.Length;
        }
    }

    public string GetName(int ordinal) => prepared.Names[ordinal];

    // The declared type; for a computed column, the storage class of the current row's value.
    public string GetTypeName(int ordinal) =>
        prepared.DeclaredTypes[ordinal] ?? raw.sqlite3_column_type(statement, ordinal) switch
            {
                raw.SQLITE_INTEGER => "INTEGER",
                raw.SQLITE_FLOAT => "REAL",
                raw.SQLITE_TEXT => "TEXT",
                raw.SQLITE_BLOB => "BLOB",
                _ => "",
            };

    public ValueTask<bool> ReadAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var step = _pending == NoStep ? raw.sqlite3_step(statement) : _pending;
        _pending = NoStep;
        return step switch
        {
            raw.SQLITE_ROW => new(true),
            raw.SQLITE_DONE => new(false),
            var rc => throw stepError(rc),
        };
    }

    public void WriteValue(int ordinal, Utf8JsonWriter json)
    {
        switch (raw.sqlite3_column_type(statement, ordinal))
        {
            case raw.SQLITE_INTEGER:
                json.WriteNumberValue(raw.sqlite3_column_int64(statement, ordinal));
                break;
            case raw.SQLITE_FLOAT:
                var value = raw.sqlite3_column_double(statement, ordinal);
                if (double.IsFinite(value))
                {
                    json.WriteNumberValue(value);
                }
                else
                {
                    json.WriteStringValue(value.ToString(CultureInfo.InvariantCulture));
                }

                break;
            case raw.SQLITE_TEXT:
                // The blob accessor returns a TEXT value's bytes as stored; SQLite does not promise they are valid UTF-8.
                var text = raw.sqlite3_column_blob(statement, ordinal);
                if (Utf8.IsValid(text))
                {
                    json.WriteStringValue(text);
                }
                else
                {
                    json.WriteStringValue(Encoding.UTF8.GetString(text));
                }

                break;
            case raw.SQLITE_BLOB:
                json.WriteBase64StringValue(raw.sqlite3_column_blob(statement, ordinal));
                break;
            default:
                json.WriteNullValue();
                break;
        }
    }
}
