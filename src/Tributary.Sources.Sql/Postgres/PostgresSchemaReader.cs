using Npgsql;
using Tributary.Core;
using Tributary.Core.Sources;

namespace Tributary.Sources.Sql.Postgres;

/// <summary>
/// Reads tables, views, columns, keys, indexes, constraints, comments and enum types of the configured schemas from
/// PostgreSQL's catalogs. Tables of the first schema are named plainly (<c>orders</c>), others with their schema (<c>sales.orders</c>).
/// </summary>
internal static class PostgresSchemaReader
{
    private const string TablesSql = """
        SELECT c.oid, n.nspname, c.relname, c.relkind::text, obj_description(c.oid, 'pg_class')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        ORDER BY array_position($1, n.nspname::text), c.relname
        """;

    private const string ColumnsSql = """
        SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum)
        FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attrelid, a.attnum
        """;

    private const string ConstraintsSql = """
        SELECT con.conrelid, con.conname, con.contype::text,
               ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
                     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
               fn.nspname, fc.relname,
               ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
                     JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i),
               con.confdeltype::text, con.confupdtype::text, pg_get_constraintdef(con.oid, true)
        FROM pg_constraint con
        LEFT JOIN pg_class fc ON fc.oid = con.confrelid LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
        WHERE con.conrelid = ANY($1) AND con.contype IN ('p', 'f', 'u', 'c')
        ORDER BY con.conrelid, con.conname
        """;

    private const string IndexesSql = """
        SELECT i.indrelid, ic.relname, i.indisunique,
               ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) k ORDER BY k)
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indrelid = ANY($1)
        ORDER BY i.indrelid, ic.relname
        """;

    private const string EnumsSql = """
        SELECT n.nspname, t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
        WHERE n.nspname = ANY($1)
        GROUP BY n.nspname, t.typname
        ORDER BY array_position($1, n.nspname::text), t.typname
        """;

    private sealed record Relation(uint Oid, string Name, string Type, string? Comment);

    /// <summary>Names of the tables and views, in schema order then by name.</summary>
    public static async Task<IReadOnlyList<string>> ListAsync(NpgsqlConnection connection, string[] schemas, CancellationToken cancellationToken) =>
        (await RelationsAsync(connection, schemas, cancellationToken)).Select(r => r.Name).ToArray();

    /// <summary>Describes every table and view, or only <paramref name="table"/>.</summary>
    public static async Task<DatabaseSchema> ReadAsync(NpgsqlConnection connection, string source, string[] schemas, string? table, CancellationToken cancellationToken)
    {
        var relations = await RelationsAsync(connection, schemas, cancellationToken);
        if (table is not null)
        {
            relations = relations.Where(r => r.Name == table).ToList();
            if (relations.Count == 0)
            {
                throw new ToolException($"source '{source}' has no table or view '{table}' (tables: {string.Join(", ", (await RelationsAsync(connection, schemas, cancellationToken)).Select(r => r.Name))})");
            }
        }

        var oids = relations.Select(r => r.Oid).ToArray();
        var columns = new Dictionary<uint, List<ColumnSchema>>();
        await foreach (var row in RowsAsync(connection, ColumnsSql, oids, cancellationToken))
        {
            Add(columns, row.GetFieldValue<uint>(0), new ColumnSchema(row.GetString(1), row.GetString(2), row.GetBoolean(3), Text(row, 4), false, Text(row, 5)));
        }

        var primaryKeys = new Dictionary<uint, string[]>();
        var foreignKeys = new Dictionary<uint, List<ForeignKeySchema>>();
        var uniques = new Dictionary<uint, List<UniqueConstraintSchema>>();
        var checks = new Dictionary<uint, List<CheckConstraintSchema>>();
        await foreach (var row in RowsAsync(connection, ConstraintsSql, oids, cancellationToken))
        {
            var oid = row.GetFieldValue<uint>(0);
            var name = row.GetString(1);
            var keyColumns = row.GetFieldValue<string[]>(3);
            switch (row.GetString(2))
            {
                case "p":
                    primaryKeys[oid] = keyColumns;
                    break;
                case "u":
                    Add(uniques, oid, new UniqueConstraintSchema(name, keyColumns));
                    break;
                case "c":
                    Add(checks, oid, new CheckConstraintSchema(name, row.GetString(9)));
                    break;
                default:
                    var target = QualifiedName(row.GetString(4), row.GetString(5), schemas);
                    Add(foreignKeys, oid, new ForeignKeySchema(keyColumns, target, row.GetFieldValue<string[]>(6), Action(row.GetString(7)), Action(row.GetString(8))));
                    break;
            }
        }

        var indexes = new Dictionary<uint, List<IndexSchema>>();
        await foreach (var row in RowsAsync(connection, IndexesSql, oids, cancellationToken))
        {
            Add(indexes, row.GetFieldValue<uint>(0), new IndexSchema(row.GetString(1), row.GetFieldValue<string[]>(3), row.GetBoolean(2)));
        }

        var tables = relations.Select(r =>
        {
            var key = primaryKeys.GetValueOrDefault(r.Oid) ?? [];
            var tableColumns = columns.GetValueOrDefault(r.Oid) ?? [];
            return new TableSchema(
                r.Name,
                r.Type,
                tableColumns.Select(c => key.Contains(c.Name) ? c with { PrimaryKey = true } : c).ToArray(),
                key,
                foreignKeys.GetValueOrDefault(r.Oid) ?? [],
                indexes.GetValueOrDefault(r.Oid) ?? [],
                uniques.GetValueOrDefault(r.Oid) ?? [],
                checks.GetValueOrDefault(r.Oid) ?? [],
                r.Comment);
        }).ToArray();

        var enums = new List<EnumTypeSchema>();
        await using (var command = new NpgsqlCommand(EnumsSql, connection) { Parameters = { new() { Value = schemas } } })
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                enums.Add(new EnumTypeSchema(QualifiedName(reader.GetString(0), reader.GetString(1), schemas), reader.GetFieldValue<string[]>(2)));
            }
        }

        return new DatabaseSchema(source, tables, enums.Count == 0 ? null : enums);
    }

    private static async Task<List<Relation>> RelationsAsync(NpgsqlConnection connection, string[] schemas, CancellationToken cancellationToken)
    {
        var relations = new List<Relation>();
        await using var command = new NpgsqlCommand(TablesSql, connection) { Parameters = { new() { Value = schemas } } };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var type = reader.GetString(3) switch
            {
                "v" => "view",
                "m" => "materialized view",
                "f" => "foreign table",
                _ => "table",
            };
            relations.Add(new Relation(reader.GetFieldValue<uint>(0), QualifiedName(reader.GetString(1), reader.GetString(2), schemas), type, Text(reader, 4)));
        }

        return relations;
    }

    private static async IAsyncEnumerable<NpgsqlDataReader> RowsAsync(NpgsqlConnection connection, string sql, uint[] oids, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection) { Parameters = { new() { Value = oids, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Oid } } };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return reader;
        }
    }

    /// <summary>A name as tools use it: plain in the first configured schema, schema-qualified elsewhere.</summary>
    public static string QualifiedName(string schema, string name, string[] schemas) => schema == schemas[0] ? name : $"{schema}.{name}";

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static string Action(string code) => code switch
    {
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        "r" => "RESTRICT",
        _ => "NO ACTION",
    };

    private static void Add<T>(Dictionary<uint, List<T>> map, uint key, T item)
    {
        if (!map.TryGetValue(key, out var list))
        {
            map[key] = list = [];
        }

        list.Add(item);
    }
}
