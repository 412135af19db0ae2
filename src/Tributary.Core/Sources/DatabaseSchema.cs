namespace Tributary.Core.Sources;

/// <summary>The tables and views of a source, and the enum types its columns use.</summary>
public sealed record DatabaseSchema(string Source, IReadOnlyList<TableSchema> Tables, IReadOnlyList<EnumTypeSchema>? Enums = null)
{
    /// <summary>The table or view called <paramref name="name"/>, or null.</summary>
    public TableSchema? Find(string name) => Tables.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.Ordinal));
}

/// <summary>An enum type and its values in declaration order.</summary>
public sealed record EnumTypeSchema(string Name, IReadOnlyList<string> Values);

/// <summary>A table or view with its columns, keys, indexes and constraints.</summary>
public sealed record TableSchema(
    string Name,
    string Type,
    IReadOnlyList<ColumnSchema> Columns,
    IReadOnlyList<string> PrimaryKey,
    IReadOnlyList<ForeignKeySchema> ForeignKeys,
    IReadOnlyList<IndexSchema> Indexes,
    IReadOnlyList<UniqueConstraintSchema> UniqueConstraints,
    IReadOnlyList<CheckConstraintSchema> CheckConstraints,
    string? Comment = null);

/// <summary>A column: declared type, nullability, default, primary key membership and comment.</summary>
public sealed record ColumnSchema(string Name, string Type, bool Nullable, string? Default, bool PrimaryKey, string? Comment = null);

/// <summary>A foreign key from <see cref="Columns"/> to <see cref="ReferencesTable"/>.</summary>
public sealed record ForeignKeySchema(IReadOnlyList<string> Columns, string ReferencesTable, IReadOnlyList<string> ReferencesColumns, string OnDelete, string OnUpdate);

/// <summary>An index and whether it enforces uniqueness.</summary>
public sealed record IndexSchema(string Name, IReadOnlyList<string> Columns, bool Unique);

/// <summary>A UNIQUE constraint.</summary>
public sealed record UniqueConstraintSchema(string? Name, IReadOnlyList<string> Columns);

/// <summary>A CHECK constraint and its expression.</summary>
public sealed record CheckConstraintSchema(string? Name, string Expression);
