using Tributary.Core.Queries;

namespace Tributary.Core.Sources;

/// <summary>A live, named data source.</summary>
public interface IDataSource : IAsyncDisposable
{
    /// <summary>The source's configured name.</summary>
    string Name { get; }

    /// <summary>The provider kind that serves it.</summary>
    string Kind { get; }

    /// <summary>What the data is, for the model.</summary>
    string Description { get; }

    /// <summary>True when the source accepts no writes.</summary>
    bool IsReadOnly { get; }

    /// <summary>Names of the tables and views, sorted.</summary>
    Task<IReadOnlyList<string>> ListTablesAsync(CancellationToken cancellationToken);

    /// <summary>Describes the tables and views; only <paramref name="table"/> when given (an unknown table is a <see cref="ToolException"/>).</summary>
    Task<DatabaseSchema> DescribeAsync(string? table, CancellationToken cancellationToken);

    /// <summary>Runs one read-only statement and writes the page of results to <paramref name="output"/>.</summary>
    Task QueryAsync(QueryRequest request, QueryResultWriter output, CancellationToken cancellationToken);
}
