using Tributary.Core.Configuration;

namespace Tributary.Server.Demo;

/// <summary>The embedded default: the demo shop database as one read-only SQLite source.</summary>
public static class DemoMode
{
    /// <summary>Name of the demo source.</summary>
    public const string SourceName = "shop";

    /// <summary>Creates the demo database in <paramref name="dataDir"/> if needed and returns a configuration that serves it.</summary>
    public static TributaryConfig CreateConfig(string dataDir, ServerConfig server)
    {
        var directory = Path.GetFullPath(dataDir);
        var path = Path.Combine(directory, DemoShop.FileName);
        DemoShop.EnsureCreated(path);
        return new TributaryConfig
        {
            BaseDirectory = directory,
            IsDemo = true,
            Server = server with { DataDir = directory },
            Topics =
            [
                new TopicConfig { Name = "orders", Description = "Order activity: orders created, paid, shipped and cancelled" },
                new TopicConfig { Name = "logs", Description = "Application log lines of the shop's services, with their severity" },
            ],
            Sources =
            [
                new SourceConfig
                {
                    Name = SourceName,
                    Kind = "sqlite",
                    Description = "Demo shop (SQLite): customers, products, orders, order_items and app_logs; deterministic sample data with 60,000 orders. Orders' status and note can be changed with update_rows (version column: version).",
                    Settings = new Dictionary<string, string> { ["path"] = path },
                    Writable = true,
                    WritableTables =
                    [
                        new WritableTableConfig
                        {
                            Name = "orders",
                            VersionColumn = "version",
                            Columns = new Dictionary<string, ValueRules>
                            {
                                ["status"] = new() { Enum = ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"] },
                                ["note"] = new() { MaxLength = 500 },
                            },
                        },
                    ],
                },
            ],
        };
    }
}
