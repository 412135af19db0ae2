using Microsoft.Extensions.Caching.Hybrid;
using Tributary.Core.Configuration;

namespace Tributary.Core.Sources;

/// <summary>The live sources, by name, in configuration order.</summary>
public sealed class SourceRegistry : IAsyncDisposable
{
    private readonly Dictionary<string, IDataSource> _byName;
    private readonly Dictionary<string, SourceConfig> _configs;

    /// <summary>
    /// Creates every configured source through its provider; <paramref name="cache"/> is the server's result cache, if it
    /// has one, and <paramref name="changed"/> what a source calls when its data changed through it (<see cref="SourceContext.Changed"/>).
    /// </summary>
    public SourceRegistry(TributaryConfig config, IEnumerable<ISourceProvider> providers, HybridCache? cache = null, Func<string, ValueTask>? changed = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var byKind = providers.ToDictionary(p => p.Kind, StringComparer.Ordinal);
        var context = new SourceContext(config.BaseDirectory) { Cache = cache, Changed = changed };
        All = config.Sources.Select(s => byKind[s.Kind].Create(s, context)).ToArray();
        _byName = All.ToDictionary(s => s.Name, StringComparer.Ordinal);
        _configs = config.Sources.ToDictionary(s => s.Name, StringComparer.Ordinal);
    }

    /// <summary>Every source, in configuration order.</summary>
    public IReadOnlyList<IDataSource> All { get; }

    /// <summary>The source called <paramref name="name"/>; an unknown name is a <see cref="ToolException"/> that lists the valid ones.</summary>
    public IDataSource Get(string name) =>
        _byName.TryGetValue(name, out var source)
            ? source
            : throw new ToolException($"unknown source '{name}' (sources: {(All.Count == 0 ? "none configured" : string.Join(", ", All.Select(s => s.Name)))})");

    /// <summary>The configuration of the source called <paramref name="name"/> (limits such as max_rows).</summary>
    public SourceConfig Config(string name) => _configs.TryGetValue(name, out var config) ? config : throw new ToolException($"unknown source '{name}'");

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var source in All)
        {
            await source.DisposeAsync();
        }
    }
}
