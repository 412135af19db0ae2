using Tributary.Core.Configuration;
using Tributary.Server.Hosting;
using Tributary.Testing;

namespace Tributary.Server.Tests.Writes;

/// <summary>Tributary over HTTP serving <c>samples/shop-tools.yaml</c> on a copy of the demo database.</summary>
public sealed class ShopToolsServer : TributaryHttpServer
{
    protected override Task<TributaryConfig> CreateConfigAsync()
    {
        var environment = new Dictionary<string, string> { ["SHOP_DB"] = DatabasePath, ["TRIBUTARY_DATA_DIR"] = DataDirectory };
        var loader = new ConfigLoader(SourceProviders.All, name => environment.GetValueOrDefault(name));
        return Task.FromResult(loader.LoadFile(Path.Combine(TestPaths.RepoRoot, "samples", "shop-tools.yaml")));
    }
}
