using System.Text.Json;

namespace Tributary.Core.Queries;

/// <summary>A forward-only cursor over a statement's rows that writes each value straight to JSON.</summary>
public interface IRowReader
{
    /// <summary>Number of columns; read after the first <see cref="ReadAsync"/>, before the names and types.</summary>
    int FieldCount { get; }

    /// <summary>Name of column <paramref name="ordinal"/>.</summary>
    string GetName(int ordinal);

    /// <summary>Type of column <paramref name="ordinal"/> as the database names it (may use the current row).</summary>
    string GetTypeName(int ordinal);

    /// <summary>Moves to the next row; false when there is none.</summary>
    ValueTask<bool> ReadAsync(CancellationToken cancellationToken);

    /// <summary>Writes the current row's value of column <paramref name="ordinal"/>.</summary>
    void WriteValue(int ordinal, Utf8JsonWriter json);
}
