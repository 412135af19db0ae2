using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tributary.Core.Generation;

/// <summary>What <see cref="ModelGenerator"/> writes.</summary>
public enum ModelTarget
{
    /// <summary>A Prisma schema (<c>schema.prisma</c>): models with <c>@id</c>, <c>@default</c> and relations both ways.</summary>
    Prisma,

    /// <summary>TypeScript interfaces (<c>models.ts</c>).</summary>
    TypeScript,

    /// <summary>C# records (<c>Models.cs</c>).</summary>
    CSharp,

    /// <summary>A JSON Schema 2020-12 document with one definition per table (<c>schema.json</c>).</summary>
    JsonSchema,
}

/// <summary>
/// Models from a live schema (the JSON of <c>describe_schema</c>): one per table, in name order, columns in table order;
/// nullability and defaults kept; foreign keys become relations (a reference on the table that holds the key, a list on
/// the table it points to). The same schema always gives the same text.
/// </summary>
public static class ModelGenerator
{
    /// <summary>The file name of a target's output.</summary>
    public static string FileName(ModelTarget target) => target switch
    {
        ModelTarget.Prisma => "schema.prisma",
        ModelTarget.TypeScript => "models.ts",
        ModelTarget.CSharp => "Models.cs",
        _ => "schema.json",
    };

    /// <summary>Generates <paramref name="target"/> from <paramref name="schema"/>, for <paramref name="tables"/> only when given.</summary>
    public static string Generate(JsonElement schema, ModelTarget target, string source, string kind, IReadOnlyCollection<string>? tables = null)
    {
        var model = Read(schema, tables);
        return target switch
        {
            ModelTarget.Prisma => Prisma(model, source, kind),
            ModelTarget.TypeScript => TypeScript(model, source),
            ModelTarget.CSharp => CSharp(model, source),
            _ => JsonSchemaDocument(model, source),
        };
    }

    private sealed record Column(string Name, string SqlType, bool Nullable, bool PrimaryKey, string? Default);

    private sealed record Relation(string Table, string[] Columns, string Target, string[] TargetColumns, string Name);

    private sealed record Table(string Name, IReadOnlyList<Column> Columns, IReadOnlyList<string> PrimaryKey)
    {
        public List<Relation> References { get; } = [];

        public List<Relation> ReferencedBy { get; } = [];
    }

    private static List<Table> Read(JsonElement schema, IReadOnlyCollection<string>? only)
    {
        var tables = schema.GetProperty("tables").EnumerateArray()
            .Where(t => t.GetProperty("type").GetString() == "table" && (only is null || only.Count == 0 || only.Contains(t.GetProperty("name").GetString()!)))
            .Select(t => (Json: t, Table: new Table(
                t.GetProperty("name").GetString()!,
                [.. t.GetProperty("columns").EnumerateArray().Select(c => new Column(
                    c.GetProperty("name").GetString()!,
                    c.GetProperty("type").GetString() ?? "",
                    c.GetProperty("nullable").GetBoolean(),
                    c.TryGetProperty("primary_key", out var pk) && pk.GetBoolean(),
                    c.TryGetProperty("default", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null))],
                t.TryGetProperty("primary_key", out var key) ? [.. key.EnumerateArray().Select(k => k.GetString()!)] : [])))
            .OrderBy(t => t.Table.Name, StringComparer.Ordinal)
            .ToList();
        var byName = tables.ToDictionary(t => t.Table.Name, t => t.Table, StringComparer.Ordinal);
        foreach (var (json, table) in tables)
        {
            if (!json.TryGetProperty("foreign_keys", out var keys))
            {
                continue;
            }

            foreach (var fk in keys.EnumerateArray().OrderBy(k => string.Join(",", k.GetProperty("columns").EnumerateArray().Select(c => c.GetString())), StringComparer.Ordinal))
            {
                var target = fk.GetProperty("references_table").GetString()!;
                if (!byName.TryGetValue(target, out var referenced))
                {
                    continue;
                }

                var columns = fk.GetProperty("columns").EnumerateArray().Select(c => c.GetString()!).ToArray();
                var relation = new Relation(table.Name, columns, target, [.. fk.GetProperty("references_columns").EnumerateArray().Select(c => c.GetString()!)], $"{table.Name}_{string.Join("_", columns)}");
                table.References.Add(relation);
                referenced.ReferencedBy.Add(relation);
            }
        }

        return [.. tables.Select(t => t.Table)];
    }

    private enum Kind
    {
        Integer,
        Number,
        Decimal,
        Boolean,
        Text,
        DateTime,
        Date,
        Json,
        Bytes,
        Uuid,
    }

    private static Kind KindOf(string sqlType)
    {
        var type = sqlType.ToLowerInvariant();
        return type switch
        {
            _ when (type.StartsWith("int", StringComparison.Ordinal) && !type.StartsWith("interval", StringComparison.Ordinal))
                || type is "bigint" or "smallint" or "tinyint" or "mediumint" || type.Contains("serial", StringComparison.Ordinal) => Kind.Integer,
            _ when type.StartsWith("bool", StringComparison.Ordinal) => Kind.Boolean,
            _ when type.StartsWith("numeric", StringComparison.Ordinal) || type.StartsWith("decimal", StringComparison.Ordinal) || type == "money" => Kind.Decimal,
            _ when type.Contains("real", StringComparison.Ordinal) || type.Contains("double", StringComparison.Ordinal) || type.Contains("float", StringComparison.Ordinal) => Kind.Number,
            _ when type.StartsWith("timestamp", StringComparison.Ordinal) || type == "datetime" => Kind.DateTime,
            _ when type == "date" => Kind.Date,
            _ when type.StartsWith("json", StringComparison.Ordinal) => Kind.Json,
            _ when type is "blob" or "bytea" => Kind.Bytes,
            _ when type == "uuid" => Kind.Uuid,
            _ => Kind.Text,
        };
    }

    /// <summary>A default as a literal of its kind (a quoted string, a number, true/false), or null when it is an expression.</summary>
    private static string? Literal(string? expression, Kind kind)
    {
        if (expression is null)
        {
            return null;
        }

        var text = expression.Trim();
        if (text.Length >= 2 && text[0] == '\'' && text.IndexOf('\'', 1) is var end && end > 0)
        {
            return JsonSerializer.Serialize(text[1..end].Replace("''", "'", StringComparison.Ordinal), CoreJsonContext.Default.String);
        }

        if (kind is Kind.Integer or Kind.Number or Kind.Decimal && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        {
            return text;
        }

        return kind == Kind.Boolean && text.ToLowerInvariant() is "true" or "false" or "1" or "0" ? (text.ToLowerInvariant() is "true" or "1" ? "true" : "false") : null;
    }

    private static bool IsNow(string? expression) =>
        expression is not null && (expression.Contains("CURRENT_TIMESTAMP", StringComparison.OrdinalIgnoreCase) || expression.StartsWith("now()", StringComparison.OrdinalIgnoreCase));

    private static string Pascal(string name) =>
        string.Concat(name.Split('_', '.', '-', ' ').Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));

    private static string Header(string comment, string source) => $"{comment} Generated by `tributary generate` from the live schema of source '{source}'. Do not edit: generate again.\n";

    private static string Prisma(List<Table> tables, string source, string kind)
    {
        var text = new StringBuilder(Header("//", source));
        text.Append(CultureInfo.InvariantCulture, $"\ndatasource db {{\n  provider = \"{(kind == "postgres" ? "postgresql" : kind)}\"\n  url      = env(\"DATABASE_URL\")\n}}\n");
        foreach (var table in tables)
        {
            var lines = new List<(string Name, string Type, string Attributes)>();
            foreach (var c in table.Columns)
            {
                var k = KindOf(c.SqlType);
                var type = k switch
                {
                    Kind.Integer => "Int",
                    Kind.Number => "Float",
                    Kind.Decimal => "Decimal",
                    Kind.Boolean => "Boolean",
                    Kind.DateTime or Kind.Date => "DateTime",
                    Kind.Json => "Json",
                    Kind.Bytes => "Bytes",
                    _ => "String",
                } + (c.Nullable ? "?" : "");
                var attributes = new List<string>();
                if (c.PrimaryKey && table.PrimaryKey.Count == 1)
                {
                    attributes.Add("@id");
                }

                if (IsNow(c.Default) && k is Kind.DateTime or Kind.Date)
                {
                    attributes.Add("@default(now())");
                }
                else if (Literal(c.Default, k) is { } literal)
                {
                    attributes.Add($"@default({literal})");
                }
                else if (c.Default is { } expression)
                {
                    attributes.Add($"@default(dbgenerated({JsonSerializer.Serialize(expression, CoreJsonContext.Default.String)}))");
                }

                lines.Add((c.Name, type, string.Join(" ", attributes)));
            }

            foreach (var r in table.References)
            {
                var optional = r.Columns.Any(col => table.Columns.First(c => c.Name == col).Nullable) ? "?" : "";
                lines.Add((RelationField(table, r), r.Target + optional, $"@relation(\"{r.Name}\", fields: [{string.Join(", ", r.Columns)}], references: [{string.Join(", ", r.TargetColumns)}])"));
            }

            foreach (var r in table.ReferencedBy)
            {
                lines.Add((BackField(table, r), r.Table + "[]", $"@relation(\"{r.Name}\")"));
            }

            var nameWidth = lines.Max(l => l.Name.Length);
            var typeWidth = lines.Max(l => l.Type.Length);
            text.Append(CultureInfo.InvariantCulture, $"\nmodel {table.Name} {{\n");
            foreach (var (name, type, attributes) in lines)
            {
                text.Append(CultureInfo.InvariantCulture, $"  {name.PadRight(nameWidth)} {(attributes.Length > 0 ? type.PadRight(typeWidth) + " " + attributes : type)}\n");
            }

            if (table.PrimaryKey.Count > 1)
            {
                text.Append(CultureInfo.InvariantCulture, $"\n  @@id([{string.Join(", ", table.PrimaryKey)}])\n");
            }
            else if (table.PrimaryKey.Count == 0)
            {
                text.Append("\n  @@ignore // no primary key\n");
            }

            text.Append("}\n");
        }

        return text.ToString();
    }

    /// <summary>The field of a relation on the table holding the key: the referenced table's name, or with the key's columns when it is referenced twice.</summary>
    private static string RelationField(Table table, Relation r) =>
        table.References.Count(o => o.Target == r.Target) > 1 || table.Columns.Any(c => c.Name == r.Target) ? $"{r.Target}_by_{string.Join("_", r.Columns)}" : r.Target;

    /// <summary>The list field on the referenced table: the referencing table's name, or with the key's columns when it references twice.</summary>
    private static string BackField(Table table, Relation r) =>
        table.ReferencedBy.Count(o => o.Table == r.Table) > 1 || table.Columns.Any(c => c.Name == r.Table) ? r.Name : r.Table;

    private static string TypeScript(List<Table> tables, string source)
    {
        var text = new StringBuilder(Header("//", source));
        foreach (var table in tables)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n/** Table {table.Name}. */\nexport interface {Pascal(table.Name)} {{\n");
            foreach (var c in table.Columns)
            {
                var k = KindOf(c.SqlType);
                var type = k switch
                {
                    Kind.Integer or Kind.Number => "number",
                    Kind.Decimal => "string",
                    Kind.Boolean => "boolean",
                    Kind.Json => "unknown",
                    _ => "string",
                } + (c.Nullable ? " | null" : "");
                var notes = new List<string> { c.SqlType };
                if (c.PrimaryKey)
                {
                    notes.Add("primary key");
                }

                if (c.Default is { } d)
                {
                    notes.Add($"default {d}");
                }

                text.Append(CultureInfo.InvariantCulture, $"  /** {string.Join("; ", notes)} */\n  {c.Name}: {type};\n");
            }

            foreach (var r in table.References)
            {
                text.Append(CultureInfo.InvariantCulture, $"  /** {string.Join(", ", r.Columns)} → {r.Target}.{string.Join(", ", r.TargetColumns)} (when loaded) */\n  {RelationField(table, r)}?: {Pascal(r.Target)};\n");
            }

            foreach (var r in table.ReferencedBy)
            {
                text.Append(CultureInfo.InvariantCulture, $"  /** {r.Table} rows whose {string.Join(", ", r.Columns)} point here (when loaded) */\n  {BackField(table, r)}?: {Pascal(r.Table)}[];\n");
            }

            text.Append("}\n");
        }

        return text.ToString();
    }

    private static string CSharp(List<Table> tables, string source)
    {
        var text = new StringBuilder(Header("//", source));
        text.Append("\n#nullable enable\n\nusing System.Text.Json;\nusing System.Text.Json.Serialization;\n\nnamespace Tributary.Models;\n");
        foreach (var table in tables)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n/// <summary>Table {table.Name}.</summary>\npublic sealed record {Pascal(table.Name)}\n{{\n");
            foreach (var c in table.Columns)
            {
                var k = KindOf(c.SqlType);
                var type = k switch
                {
                    Kind.Integer => "long",
                    Kind.Number => "double",
                    Kind.Decimal => "decimal",
                    Kind.Boolean => "bool",
                    Kind.DateTime => "DateTimeOffset",
                    Kind.Date => "DateOnly",
                    Kind.Json => "JsonElement",
                    Kind.Bytes => "byte[]",
                    Kind.Uuid => "Guid",
                    _ => "string",
                };
                var nullable = c.Nullable ? "?" : "";
                // A literal default becomes the initializer; a column without one (or with an expression) must be set.
                var initializer = k is Kind.Text or Kind.Integer or Kind.Number or Kind.Decimal or Kind.Boolean && Literal(c.Default, k) is { } literal
                    ? $" = {literal}{(k == Kind.Decimal ? "m" : "")};"
                    : "";
                var required = !c.Nullable && initializer.Length == 0 ? "required " : "";
                text.Append(CultureInfo.InvariantCulture, $"    /// <summary>{c.SqlType}{(c.PrimaryKey ? ", primary key" : "")}{(c.Default is { } d ? $", default {System.Security.SecurityElement.Escape(d)}" : "")}.</summary>\n");
                text.Append(CultureInfo.InvariantCulture, $"    [JsonPropertyName(\"{c.Name}\")]\n    public {required}{type}{nullable} {Pascal(c.Name)} {{ get; init; }}{initializer}\n\n");
            }

            foreach (var r in table.References)
            {
                text.Append(CultureInfo.InvariantCulture, $"    /// <summary>The {r.Target} row that {string.Join(", ", r.Columns)} points to, when loaded.</summary>\n    [JsonIgnore]\n    public {Pascal(r.Target)}? {Pascal(RelationField(table, r))}Ref {{ get; init; }}\n\n");
            }

            foreach (var r in table.ReferencedBy)
            {
                text.Append(CultureInfo.InvariantCulture, $"    /// <summary>The {r.Table} rows whose {string.Join(", ", r.Columns)} point here, when loaded.</summary>\n    [JsonIgnore]\n    public IReadOnlyList<{Pascal(r.Table)}>? {Pascal(BackField(table, r))}List {{ get; init; }}\n\n");
            }

            text.Length -= 1;
            text.Append("}\n");
        }

        return text.ToString();
    }

    private static string JsonSchemaDocument(List<Table> tables, string source)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("$schema", "https://json-schema.org/draft/2020-12/schema");
            w.WriteString("$comment", Header("", source).Trim());
            w.WriteStartObject("$defs");
            foreach (var table in tables)
            {
                w.WriteStartObject(table.Name);
                w.WriteString("type", "object");
                w.WriteBoolean("additionalProperties", false);
                w.WriteStartObject("properties");
                foreach (var c in table.Columns)
                {
                    var k = KindOf(c.SqlType);
                    w.WriteStartObject(c.Name);
                    var type = k switch
                    {
                        Kind.Integer => "integer",
                        Kind.Number => "number",
                        Kind.Boolean => "boolean",
                        Kind.Json => null,
                        _ => "string",
                    };
                    if (type is not null)
                    {
                        if (c.Nullable)
                        {
                            w.WriteStartArray("type");
                            w.WriteStringValue(type);
                            w.WriteStringValue("null");
                            w.WriteEndArray();
                        }
                        else
                        {
                            w.WriteString("type", type);
                        }
                    }

                    if (k switch { Kind.DateTime => "date-time", Kind.Date => "date", Kind.Uuid => "uuid", _ => null } is { } format)
                    {
                        w.WriteString("format", format);
                    }

                    if (Literal(c.Default, k) is { } literal)
                    {
                        w.WritePropertyName("default");
                        JsonElement.Parse(literal).WriteTo(w);
                    }

                    var notes = new List<string> { c.SqlType };
                    notes.AddRange(table.References.Where(r => r.Columns.Contains(c.Name)).Select(r => $"references {r.Target}.{string.Join(", ", r.TargetColumns)}"));
                    w.WriteString("description", string.Join("; ", notes));
                    w.WriteEndObject();
                }

                w.WriteEndObject();
                w.WriteStartArray("required");
                foreach (var c in table.Columns.Where(c => !c.Nullable && c.Default is null))
                {
                    w.WriteStringValue(c.Name);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }
}
