using System.Text.Json.Serialization;
using Tributary.Core.Queries;
using Tributary.Core.Sources;

namespace Tributary.Core;

/// <summary>Source-generated JSON for the core's types (no reflection, so Native AOT stays possible).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CursorState))]
[JsonSerializable(typeof(DatabaseSchema))]
[JsonSerializable(typeof(TableSchema))]
[JsonSerializable(typeof(string))]
public sealed partial class CoreJsonContext : JsonSerializerContext;
