using System.ComponentModel;
using ModelContextProtocol.Server;

namespace Tributary.Bench.HelloServer;

/// <summary>The one tool of the floor server.</summary>
[McpServerToolType]
public sealed class HelloTool
{
    /// <summary>Returns a short greeting.</summary>
    [McpServerTool(Name = "hello", ReadOnly = true, Idempotent = true, OpenWorld = false), Description("Says hello.")]
    public static string Hello() => "hello, world";
}
