using Tributary.Core.Configuration;
using Tributary.Core.Sources;

namespace Tributary.Sources.Http.Tests;

/// <summary>The <c>http</c> sources of the tests: named <c>api</c>, on an API at 127.0.0.1 (allowed by range), through the provider as a configuration would make them.</summary>
internal static class TestSources
{
    public static HttpSource Create(string baseUrl, params (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string> { ["base_url"] = baseUrl, ["allowed_ranges"] = "127.0.0.1/32" };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        return (HttpSource)new HttpProvider().Create(new SourceConfig { Name = "api", Kind = "http", Settings = all }, new SourceContext("/"));
    }
}
