using Microsoft.Extensions.Caching.Hybrid;
using Tributary.Core.Configuration;

namespace Tributary.Core.Sources;

/// <summary>A kind of data source (<c>sqlite</c>, ...), registered by name; the core only sees this abstraction.</summary>
public interface ISourceProvider
{
    /// <summary>The name configurations use in <c>kind:</c>.</summary>
    string Kind { get; }

    /// <summary>The provider-specific keys a source of this kind accepts, with what each means.</summary>
    IReadOnlyDictionary<string, string> SettingKeys { get; }

    /// <summary>The keys among <see cref="SettingKeys"/> written as a mapping of names to values (such as headers); each reaches <see cref="Validate"/> as the text of a JSON object of strings. None by default.</summary>
    IReadOnlyCollection<string> MappingSettingKeys => [];

    /// <summary>True for a database (tables, SQL, statements): the database settings (<c>statement_timeout</c>, <c>max_rows</c>, <c>writable</c>, <c>capture</c>, ...) apply to its sources. True by default.</summary>
    bool IsDatabase => true;

    /// <summary>Checks a source's settings, reporting every problem to <paramref name="errors"/>.</summary>
    void Validate(SourceConfig source, SourceContext context, ConfigErrors errors);

    /// <summary>Creates the live source from validated settings.</summary>
    IDataSource Create(SourceConfig source, SourceContext context);
}

/// <summary>What a provider needs to know about where it runs.</summary>
/// <param name="BaseDirectory">Directory that relative paths in the configuration are relative to.</param>
public sealed record SourceContext(string BaseDirectory)
{
    /// <summary>
    /// The server's result cache (memory, and its second level such as <c>server.redis</c>), for sources that keep
    /// answers; null when nothing is configured to be cached.
    /// </summary>
    public HybridCache? Cache { get; init; }

    /// <summary>
    /// Tells the server that a source's data changed through a call Tributary made (a POST to an API): the server drops
    /// what it cached of that source, and tells the servers sharing <c>server.redis</c> to. Null outside a server.
    /// </summary>
    public Func<string, ValueTask>? Changed { get; init; }

    /// <summary>Resolves a configured path against <see cref="BaseDirectory"/>.</summary>
    public string ResolvePath(string path) => System.IO.Path.GetFullPath(path, BaseDirectory);
}
