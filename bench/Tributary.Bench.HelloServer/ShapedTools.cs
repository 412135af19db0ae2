using System.ComponentModel;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Tributary.Bench.HelloServer;

/// <summary>
/// Optional tools (<c>--shapes</c>) for the bottleneck analysis: fixed results with the shape and size of Tributary's
/// answers (the same JSON as <c>structuredContent</c> and as text), built once, so that a call costs only what the SDK
/// and the transport spend on a payload of that size. Tributary's cost minus this is Tributary's own work.
/// </summary>
[McpServerToolType]
public sealed class ShapedTools
{
    // A point-query answer as Tributary sends it for SELECT * FROM orders WHERE id = 42.
    private const string PointJson =
        """{"columns":[{"name":"id","type":"INTEGER"},{"name":"customer_id","type":"INTEGER"},{"name":"status","type":"TEXT"},{"name":"total_cents","type":"INTEGER"},{"name":"currency","type":"TEXT"},{"name":"created_at","type":"TEXT"},{"name":"shipped_at","type":"TEXT"},{"name":"note","type":"TEXT"}],"rows":[[42,34,"delivered",2199,"USD","2024-01-16T21:38:48Z","2024-01-18T17:14:52Z",null]],"row_count":1,"truncated":false,"elapsed_ms":0.05}""";

    private static readonly string RowsJson = MakeRows(1000);
    private static readonly JsonElement PointElement = JsonElement.Parse(PointJson);
    private static readonly JsonElement RowsElement = JsonElement.Parse(RowsJson);

    /// <summary>A fixed point-query-shaped result (text and structuredContent).</summary>
    [McpServerTool(Name = "point_shaped", ReadOnly = true), Description("A fixed result shaped like a point query.")]
    public static CallToolResult PointShaped() => new()
    {
        Content = [new TextContentBlock { Text = PointJson }],
        StructuredContent = PointElement,
    };

    /// <summary>A fixed 1000-row-shaped result (text and structuredContent).</summary>
    [McpServerTool(Name = "rows_shaped", ReadOnly = true), Description("A fixed result shaped like a 1000-row query.")]
    public static CallToolResult RowsShaped() => new()
    {
        Content = [new TextContentBlock { Text = RowsJson }],
        StructuredContent = RowsElement,
    };

    /// <summary>The same 1000 rows as structuredContent only, with a one-line text.</summary>
    [McpServerTool(Name = "rows_structured_only", ReadOnly = true), Description("The 1000-row result without the text copy.")]
    public static CallToolResult RowsStructuredOnly() => new()
    {
        Content = [new TextContentBlock { Text = "1000 rows" }],
        StructuredContent = RowsElement,
    };

    // Rows of the demo orders table's widths: about 84 bytes each in the compact encoding.
    private static string MakeRows(int count)
    {
        var json = new StringBuilder(count * 90);
        json.Append("""{"columns":[{"name":"id","type":"INTEGER"},{"name":"customer_id","type":"INTEGER"},{"name":"status","type":"TEXT"},{"name":"total_cents","type":"INTEGER"},{"name":"currency","type":"TEXT"},{"name":"created_at","type":"TEXT"},{"name":"shipped_at","type":"TEXT"},{"name":"note","type":"TEXT"}],"rows":[""");
        string[] statuses = ["delivered", "shipped", "paid", "pending", "cancelled"];
        for (var i = 1; i <= count; i++)
        {
            json.Append(CultureInfo.InvariantCulture, $"""{(i > 1 ? "," : "")}[{i},{(i * 7919) % 5000 + 1},"{statuses[i % statuses.Length]}",{(i * 104729) % 90000 + 500},"USD","2024-01-{i % 28 + 1:00}T{i % 24:00}:38:48Z","2024-01-{i % 28 + 1:00}T{(i + 5) % 24:00}:14:52Z",{(i % 7 == 0 ? "\"gift wrap\"" : "null")}]""");
        }

        json.Append("""],"row_count":1000,"truncated":false,"elapsed_ms":1.5}""");
        return json.ToString();
    }
}
