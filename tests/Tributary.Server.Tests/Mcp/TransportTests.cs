using ModelContextProtocol.Client;
using Tributary.Testing;

namespace Tributary.Server.Tests.Mcp;

public sealed class TransportTests(TributaryHttpServer server) : IClassFixture<TributaryHttpServer>
{
    [Fact]
    public async Task Default_negotiation_reaches_2026_07_28_statelessly()
    {
        await using var client = await server.ConnectAsync();
        Assert.Equal("2026-07-28", client.NegotiatedProtocolVersion);
        Assert.Null(client.SessionId);
        await SurfaceAssertions.ExerciseAsync(client);
    }

    [Theory]
    [InlineData("2025-11-25")]
    [InlineData("2025-06-18")]
    [InlineData("2025-03-26")]
    public async Task Initialize_clients_get_a_session(string version)
    {
        await using var client = await server.ConnectAsync(protocolVersion: version);
        Assert.Equal(version, client.NegotiatedProtocolVersion);
        Assert.False(string.IsNullOrEmpty(client.SessionId));
        await SurfaceAssertions.ExerciseAsync(client);
    }

    [Fact]
    public async Task Legacy_sse_clients_are_served_at_slash_sse()
    {
        await using var client = await server.ConnectAsync(HttpTransportMode.Sse);
        await SurfaceAssertions.ExerciseAsync(client);
    }

    [Fact]
    public async Task Stdio_serves_a_real_tributary_process()
    {
        var transport = new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "tributary",
            Command = "dotnet",
            Arguments = [TestPaths.CliDll, "serve", "--stdio", "--data-dir", DemoDatabase.DataDirectory()],
            ShutdownTimeout = TimeSpan.FromSeconds(10),
        });
        await using var client = await McpClient.CreateAsync(transport);
        await SurfaceAssertions.ExerciseAsync(client, writable: true);
    }
}
