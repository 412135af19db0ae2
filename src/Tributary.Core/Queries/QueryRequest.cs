namespace Tributary.Core.Queries;

/// <summary>One page of one read-only query.</summary>
/// <param name="Sql">Exactly one SQL statement.</param>
/// <param name="Parameters">Values bound as real database parameters, named (<c>@name</c>) or positional (<c>?</c>).</param>
/// <param name="MaxRows">Rows in this page.</param>
/// <param name="Offset">Rows of the result already returned by earlier pages.</param>
/// <param name="MaxBytes">Size bound of the page's JSON: the page ends at the row that crosses it (one row at least).</param>
public sealed record QueryRequest(string Sql, IReadOnlyList<QueryParameter> Parameters, int MaxRows, int Offset, long MaxBytes = long.MaxValue);

/// <summary>A parameter value; <see cref="Name"/> is null for positional parameters.</summary>
/// <param name="Name">Parameter name without its prefix, or null when positional.</param>
/// <param name="Value">A <see cref="long"/>, <see cref="double"/>, <see cref="string"/>, <see cref="bool"/> or null.</param>
public sealed record QueryParameter(string? Name, object? Value);
