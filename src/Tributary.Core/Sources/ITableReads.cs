using Tributary.Core.Queries;

namespace Tributary.Core.Sources;

/// <summary>A source that can tell which tables a read-only statement reads, so cached results can be dropped when those tables change.</summary>
public interface ITableReads
{
    /// <summary>
    /// The tables <paramref name="request"/>'s statement reads (a view: its name and the tables it reads), named as writes and change
    /// capture name them (lowercase; unqualified in the default schema); null when the set cannot be known.
    /// A statement the source refuses is a <see cref="ToolException"/>, as its query would be.
    /// </summary>
    Task<IReadOnlyCollection<string>?> TablesReadAsync(QueryRequest request, CancellationToken cancellationToken);
}
