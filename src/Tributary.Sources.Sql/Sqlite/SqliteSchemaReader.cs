using Microsoft.Data.Sqlite;
using Tributary.Core;
using Tributary.Core.Sources;

namespace Tributary.Sources.Sql.Sqlite;

/// <summary>Reads tables, views, columns, keys, indexes and constraints from SQLite's catalog and pragmas.</summary>
internal static class SqliteSchemaReader
{
    private const string CatalogSql = "SELECT name, type, sql FROM sqlite_schema WHERE type IN ('table','view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";

    public static async Task<IReadOnlyList<string>> ListAsync(SqliteConnection connection, CancellationToken cancellationToken) =>
        (await CatalogAsync(connection, cancellationToken)).Select(o => o.Name).ToArray();

    public static async Task<DatabaseSchema> ReadAsync(SqliteConnection connection, string source, string? table, CancellationToken cancellationToken)
    {
        var objects = await CatalogAsync(connection, cancellationToken);

        if (table is not null)
        {
            var match = objects.Where(o => string.Equals(o.Name, table, StringComparison.OrdinalIgnoreCase)).ToList();
            if (match.Count == 0)
            {
                throw new ToolException($"source '{source}' has no table or view '{table}' (it has: {string.Join(", ", objects.Select(o => o.Name))})");
            }

            objects = match;
        }

        var tables = new List<TableSchema>(objects.Count);
        foreach (var (name, type, sql) in objects)
        {
            tables.Add(await ReadTableAsync(connection, name, type, sql, cancellationToken));
        }

        return new DatabaseSchema(source, tables);
    }

    private static async Task<List<(string Name, string Type, string? Sql)>> CatalogAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        var objects = new List<(string Name, string Type, string? Sql)>();
        await using var command = connection.CreateCommand();
        command.CommandText = CatalogSql;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            objects.Add((reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
        }

        return objects;
    }

    private static async Task<TableSchema> ReadTableAsync(SqliteConnection connection, string name, string type, string? sql, CancellationToken cancellationToken)
    {
        var columns = new List<ColumnSchema>();
        var primaryKey = new SortedList<long, string>();
        await foreach (var row in RowsAsync(connection, "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo($t)", name, cancellationToken))
        {
            if ((long)row[5]! is 1)
            {
                continue; // hidden columns of virtual tables
            }

            var pk = (long)row[4]!;
            if (pk > 0)
            {
                primaryKey.Add(pk, (string)row[0]!);
            }

            columns.Add(new ColumnSchema((string)row[0]!, (string?)row[1] ?? "", (long)row[2]! == 0 && pk == 0, (string?)row[3], pk > 0));
        }

        var foreignKeys = new List<ForeignKeySchema>();
        await foreach (var group in GroupedAsync(connection, "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list($t) ORDER BY id, seq", name, cancellationToken))
        {
            foreignKeys.Add(new ForeignKeySchema(
                group.Select(r => (string)r[2]!).ToArray(),
                (string)group[0][1]!,
                group.Select(r => (string?)r[3] ?? "").ToArray(),
                (string)group[0][5]!,
                (string)group[0][4]!));
        }

        var indexes = new List<IndexSchema>();
        var uniques = new List<UniqueConstraintSchema>();
        var indexList = new List<(string Name, bool Unique, string Origin)>();
        await foreach (var row in RowsAsync(connection, "SELECT name, \"unique\", origin FROM pragma_index_list($t) ORDER BY name", name, cancellationToken))
        {
            indexList.Add(((string)row[0]!, (long)row[1]! == 1, (string)row[2]!));
        }

        foreach (var (indexName, unique, origin) in indexList)
        {
            var indexColumns = new List<string>();
            await foreach (var row in RowsAsync(connection, "SELECT name FROM pragma_index_info($t) ORDER BY seqno", indexName, cancellationToken))
            {
                indexColumns.Add((string?)row[0] ?? "(expression)");
            }

            indexes.Add(new IndexSchema(indexName, indexColumns, unique));
            if (origin == "u")
            {
                uniques.Add(new UniqueConstraintSchema(null, indexColumns));
            }
        }

        return new TableSchema(name, type, columns, primaryKey.Values.ToArray(), foreignKeys, indexes, uniques, SqliteCheckParser.Parse(sql));
    }

    private static async IAsyncEnumerable<object?[]> RowsAsync(SqliteConnection connection, string sql, string argument, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$t", argument);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            yield return row;
        }
    }

    private static async IAsyncEnumerable<List<object?[]>> GroupedAsync(SqliteConnection connection, string sql, string argument, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        List<object?[]> group = [];
        await foreach (var row in RowsAsync(connection, sql, argument, cancellationToken))
        {
            if (group.Count > 0 && !Equals(group[0][0], row[0]))
            {
                yield return group;
                group = [];
            }

            group.Add(row);
        }

        if (group.Count > 0)
        {
            yield return group;
        }
    }
}
