using System.Buffers;
using System.Globalization;
using System.Text.Json;
using NJsonSchema;
using NJsonSchema.Validation;
using Tributary.Core;
using Tributary.Core.Configuration;

namespace Tributary.Server.Mcp;

/// <summary>One value a tool accepts: a named-tool parameter, or a column that <c>update_rows</c> may key or set.</summary>
/// <param name="Name">The argument or column name.</param>
/// <param name="Type">JSON type: string, integer, number, boolean, or null for any JSON value.</param>
/// <param name="Nullable">True when null is accepted.</param>
/// <param name="Description">What it means, for the model.</param>
/// <param name="Required">True when the caller must give it.</param>
/// <param name="Rules">Rules beyond the type.</param>
/// <param name="Default">The value used when the caller leaves it out, or null.</param>
internal sealed record ValueSpec(string Name, string? Type, bool Nullable, string Description, bool Required, ValueRules Rules, JsonElement? Default = null);

/// <summary>
/// The JSON Schema of an object of values, built once: written into a tool's input schema for the model, and checked with
/// NJsonSchema on every call. A failure is a <see cref="ToolException"/> that names the field and the rule.
/// </summary>
internal sealed class ValueSchema
{
    /// <summary>Longest string accepted where no max_length (or column width) says otherwise.</summary>
    public const int DefaultMaxLength = 65_536;

    private readonly JsonSchema _schema;

    public ValueSchema(IReadOnlyList<ValueSpec> specs)
    {
        Specs = specs;
        _schema = new JsonSchema { Type = JsonObjectType.Object, AllowAdditionalProperties = false };
        foreach (var spec in specs)
        {
            var property = new JsonSchemaProperty { Type = JsonType(spec.Type), MinLength = spec.Rules.MinLength, Pattern = spec.Rules.Pattern, Format = spec.Rules.Format };
            if (spec.Type == "string")
            {
                property.MaxLength = spec.Rules.MaxLength ?? DefaultMaxLength;
            }

            property.Minimum = spec.Rules.Minimum;
            property.Maximum = spec.Rules.Maximum;
            foreach (var value in spec.Rules.Enum ?? [])
            {
                property.Enumeration.Add(value);
            }

            if (spec.Nullable)
            {
                property.Type |= JsonObjectType.Null;
                if (property.Enumeration.Count > 0)
                {
                    property.Enumeration.Add(null);
                }
            }

            _schema.Properties[spec.Name] = property;
            if (spec.Required)
            {
                _schema.RequiredProperties.Add(spec.Name);
            }
        }
    }

    /// <summary>The values, in order.</summary>
    public IReadOnlyList<ValueSpec> Specs { get; }

    /// <summary>Writes each value as a property of a JSON Schema <c>properties</c> object.</summary>
    public void WriteProperties(Utf8JsonWriter json)
    {
        ArgumentNullException.ThrowIfNull(json);
        foreach (var spec in Specs)
        {
            json.WriteStartObject(spec.Name);
            if (spec.Type is { } type)
            {
                if (spec.Nullable)
                {
                    json.WriteStartArray("type"u8);
                    json.WriteStringValue(type);
                    json.WriteStringValue("null"u8);
                    json.WriteEndArray();
                }
                else
                {
                    json.WriteString("type"u8, type);
                }
            }

            if (spec.Description.Length > 0)
            {
                json.WriteString("description"u8, spec.Description);
            }

            var rules = spec.Rules;
            WriteNumber(json, "minimum", rules.Minimum);
            WriteNumber(json, "maximum", rules.Maximum);
            WriteNumber(json, "minLength", rules.MinLength);
            WriteNumber(json, "maxLength", spec.Type == "string" ? rules.MaxLength ?? DefaultMaxLength : rules.MaxLength);
            if (rules.Pattern is { } pattern)
            {
                json.WriteString("pattern"u8, pattern);
            }

            if (rules.Format is { } format)
            {
                json.WriteString("format"u8, format);
            }

            if (rules.Enum is { } values)
            {
                json.WriteStartArray("enum"u8);
                foreach (var value in values)
                {
                    json.WriteStringValue(value);
                }

                json.WriteEndArray();
            }

            if (spec.Default is { } fallback)
            {
                json.WritePropertyName("default"u8);
                fallback.WriteTo(json);
            }

            json.WriteEndObject();
        }
    }

    /// <summary>The names of the required values.</summary>
    public IEnumerable<string> RequiredNames => Specs.Where(s => s.Required).Select(s => s.Name);

    /// <summary>
    /// Checks <paramref name="values"/> (an object, or null for none) and returns each given or defaulted value, in spec
    /// order, as a database parameter value. <paramref name="field"/> prefixes names in errors (such as <c>set.</c>).
    /// </summary>
    public List<KeyValuePair<string, object?>> Validate(IEnumerable<KeyValuePair<string, JsonElement>> values, string field = "")
    {
        ArgumentNullException.ThrowIfNull(values);
        var given = values.ToList();
        foreach (var (name, value) in given)
        {
            if (value.ValueKind == JsonValueKind.String && value.GetString()!.Contains('\0', StringComparison.Ordinal))
            {
                throw new ToolException($"'{field}{name}' contains a NUL character (\\u0000), which text values cannot hold");
            }
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var (name, value) in given)
            {
                json.WritePropertyName(name);
                value.WriteTo(json);
            }

            json.WriteEndObject();
        }

        var errors = _schema.Validate(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
        if (errors.Count > 0)
        {
            throw new ToolException(string.Join("; ", errors.Take(5).Select(e => Describe(e, field))));
        }

        var result = new List<KeyValuePair<string, object?>>();
        foreach (var spec in Specs)
        {
            var found = given.FindIndex(g => g.Key == spec.Name);
            if (found >= 0)
            {
                result.Add(new(spec.Name, ToValue(given[found].Value)));
            }
            else if (spec.Default is { } fallback)
            {
                result.Add(new(spec.Name, ToValue(fallback)));
            }
        }

        return result;
    }

    /// <summary>A JSON value as a database parameter: long, double, string, bool, null, or the JSON text of an object or array.</summary>
    public static object? ToValue(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number when value.TryGetInt64(out var integer) => integer,
        JsonValueKind.Number => value.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        _ => value.GetRawText(),
    };

    /// <summary>A configured default (as written in the file) as a JSON value of <paramref name="type"/>.</summary>
    public static JsonElement? DefaultValue(string type, string? text) => text is null ? null : type switch
    {
        "integer" or "number" or "boolean" => JsonElement.Parse(text),
        _ => JsonSerializer.SerializeToElement(text, CoreJsonContext.Default.String),
    };

    private static JsonObjectType JsonType(string? type) => type switch
    {
        "string" => JsonObjectType.String,
        "integer" => JsonObjectType.Integer,
        "number" => JsonObjectType.Number,
        "boolean" => JsonObjectType.Boolean,
        _ => JsonObjectType.None,
    };

    private static void WriteNumber(Utf8JsonWriter json, string name, decimal? value)
    {
        if (value is { } number)
        {
            json.WriteNumber(name, number);
        }
    }

    private string Describe(ValidationError error, string field)
    {
        // A nullable value fails for both of its types; what matters is why the non-null type failed.
        if (error is MultiTypeValidationError multi &&
            multi.Errors.FirstOrDefault(e => e.Key != JsonObjectType.Null && e.Value.Count > 0).Value is { } inner &&
            inner.First().Kind is not (ValidationErrorKind.StringExpected or ValidationErrorKind.IntegerExpected or ValidationErrorKind.NumberExpected or ValidationErrorKind.BooleanExpected))
        {
            return Describe(inner.First(), field);
        }

        var name = error.Property ?? error.Path?.TrimStart('#', '/') ?? "";
        var spec = Specs.FirstOrDefault(s => s.Name == name);
        var rules = spec?.Rules ?? new ValueRules();
        var what = error.Kind switch
        {
            ValidationErrorKind.PropertyRequired => "is required",
            ValidationErrorKind.NoAdditionalPropertiesAllowed => $"is not accepted here (accepted: {string.Join(", ", Specs.Select(s => s.Name))})",
            ValidationErrorKind.IntegerExpected => "must be a whole number" + OrNull(spec),
            ValidationErrorKind.NumberExpected => "must be a number" + OrNull(spec),
            ValidationErrorKind.StringExpected => "must be a string" + OrNull(spec),
            ValidationErrorKind.BooleanExpected => "must be true or false" + OrNull(spec),
            ValidationErrorKind.NullExpected or ValidationErrorKind.NoTypeValidates => $"must be {Article(spec?.Type)}" + OrNull(spec),
            ValidationErrorKind.NumberTooSmall => $"must be at least {rules.Minimum?.ToString(CultureInfo.InvariantCulture)} (minimum)",
            ValidationErrorKind.NumberTooBig or ValidationErrorKind.IntegerTooBig => $"must be at most {rules.Maximum?.ToString(CultureInfo.InvariantCulture)} (maximum)",
            ValidationErrorKind.StringTooShort => $"must have at least {rules.MinLength} characters (min_length)",
            ValidationErrorKind.StringTooLong => $"must have at most {rules.MaxLength ?? DefaultMaxLength} characters (max_length)",
            ValidationErrorKind.PatternMismatch => $"must match the pattern {rules.Pattern}",
            ValidationErrorKind.NotInEnumeration => $"must be one of: {string.Join(", ", rules.Enum ?? [])}",
            ValidationErrorKind.DateTimeExpected => "must be a date-time such as 2025-01-31T12:00:00Z (format date-time)",
            ValidationErrorKind.DateExpected => "must be a date such as 2025-01-31 (format date)",
            ValidationErrorKind.TimeExpected => "must be a time such as 12:00:00 (format time)",
            ValidationErrorKind.EmailExpected => "must be an email address (format email)",
            ValidationErrorKind.GuidExpected or ValidationErrorKind.UuidExpected => "must be a UUID (format uuid)",
            ValidationErrorKind.UriExpected => "must be an absolute URI (format uri)",
            var kind => $"is not valid ({kind})",
        };
        return $"'{field}{name}' {what}";
    }

    private static string OrNull(ValueSpec? spec) => spec?.Nullable == true ? " or null" : "";

    private static string Article(string? type) => type switch
    {
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "true or false",
        "string" => "a string",
        _ => "a value",
    };
}
