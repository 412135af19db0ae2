using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Tributary.Core.Configuration;
using Tributary.Core.Sources;

namespace Tributary.Sources.Http.Tests;

/// <summary>The <c>http</c> sources of the tests: named <c>api</c>, on an API at 127.0.0.1 (allowed by range), through the provider as a configuration would make them.</summary>
internal static class TestSources
{
    public static HttpSource Create(string baseUrl, params (string Key, string Value)[] settings) =>
        (HttpSource)new HttpProvider().Create(Config(baseUrl, settings), new SourceContext("/"));

    /// <summary>A source that keeps its fresh answers in <paramref name="cache"/> (as a server's sources share its result cache) and tells time by <paramref name="time"/>.</summary>
    public static HttpSource Create(string baseUrl, HybridCache cache, TimeProvider time, params (string Key, string Value)[] settings)
    {
        var config = Config(baseUrl, settings);
        var errors = new ConfigErrors();
        return new HttpSource(config, HttpProvider.Read(config, new SourceContext("/"), errors) ?? throw new ConfigException(errors.All), cache, time: time);
    }

    private static SourceConfig Config(string baseUrl, (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string> { ["base_url"] = baseUrl, ["allowed_ranges"] = "127.0.0.1/32" };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        return new SourceConfig { Name = "api", Kind = "http", Settings = all };
    }
}
