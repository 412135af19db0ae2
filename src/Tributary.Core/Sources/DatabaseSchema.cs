namespace Tributary.Core.Sources;

/// <summary>The tables and views of a source.</summary>
public sealed record DatabaseSchema(string Source, IReadOnlyList<TableSchema> Tables);

/// <summary>A table or view with its columns, keys, indexes and constraints.</summary>
public sealed record TableSchema(
    string Name,
    string Type,
    IReadOnlyList<ColumnSchema> Columns,
    IReadOnlyList<string> PrimaryKey,
    IReadOnlyList<ForeignKeySchema> ForeignKeys,
    IReadOnlyList<IndexSchema> Indexes,
    IReadOnlyList<UniqueConstraintSchema> UniqueConstraints,
    IReadOnlyList<CheckConstraintSchema> CheckConstraints);

/// <summary>A column: declared type, nullability, default and primary key membership.</summary>
public sealed record ColumnSchema(string Name, string Type, bool Nullable, string? Default, bool PrimaryKey);

/// <summary>A foreign key from <see cref="Columns"/> to <see cref="ReferencesTable"/>.</summary>
public sealed record ForeignKeySchema(IReadOnlyList<string> Columns, string ReferencesTable, IReadOnlyList<string> ReferencesColumns, string OnDelete, string OnUpdate);

/// <summary>An index and whether it enforces uniqueness.</summary>
public sealed record IndexSchema(string Name, IReadOnlyList<string> Columns, bool Unique);

/// <summary>A UNIQUE constraint.</summary>
public sealed record UniqueConstraintSchema(string? Name, IReadOnlyList<string> Columns);

/// <summary>A CHECK constraint and its expression.</summary>
public sealed record CheckConstraintSchema(string? Name, string Expression);
