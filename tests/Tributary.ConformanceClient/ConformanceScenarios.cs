using System.Net.Http.Json;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Authentication;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Tributary.Client;

namespace Tributary.ConformanceClient;

/// <summary>What each client scenario of the suite (0.1.16) expects the client to do, done with <see cref="TributaryClient"/>.</summary>
internal static class ConformanceScenarios
{
    /// <summary>The client ID metadata document the suite's authorization servers accept (they do not fetch it).</summary>
    private static readonly Uri ClientMetadataDocument = new("https://conformance-test.local/client-metadata.json");

    /// <summary>Runs <paramref name="scenario"/> against the server URL that ends <paramref name="args"/>.</summary>
    public static async Task<int> RunAsync(string[] args, string? scenario, ConformanceContext context)
    {
        if (args is not [.., var url] || scenario is null || !Uri.TryCreate(url, UriKind.Absolute, out var server))
        {
            await Console.Error.WriteLineAsync("usage: MCP_CONFORMANCE_SCENARIO=<scenario> Tributary.ConformanceClient <server URL>");
            return 2;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(25));
        try
        {
            await RunScenarioAsync(scenario, server, context, timeout.Token);
            await Console.Out.WriteLineAsync($"{scenario}: done");
            return 0;
        }
        catch (Exception e) when (e is TributaryAuthenticationException or TributaryConnectionException or TributaryToolException or McpException or HttpRequestException or InvalidOperationException or OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"{scenario}: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }

    private static Task RunScenarioAsync(string scenario, Uri server, ConformanceContext context, CancellationToken cancellationToken) => scenario switch
    {
        "initialize" => ListToolsAsync(Options(server), cancellationToken),
        "tools_call" => CallToolAsync(Options(server), "add_numbers", new() { ["a"] = 5, ["b"] = 10 }, cancellationToken),
        "elicitation-sep1034-client-defaults" => CallToolAsync(Options(server) with { ElicitationHandler = AcceptWithDefaults }, "test_client_elicitation_defaults", [], cancellationToken),
        "sse-retry" => CallToolAsync(Options(server), "test_reconnection", [], cancellationToken),
        "auth/client-credentials-basic" => ListToolsAsync(Options(server) with { OAuth = new OAuthClientCredentials { ClientId = context.Get("client_id"), ClientSecret = context.Get("client_secret") } }, cancellationToken),
        "auth/client-credentials-jwt" => ListToolsAsync(Options(server) with { OAuth = new OAuthClientCredentials { ClientId = context.Get("client_id"), PrivateKeyPem = context.Get("private_key_pem") } }, cancellationToken),
        "auth/cross-app-access-complete-flow" => CrossAppAccessAsync(server, context, cancellationToken),
        _ when scenario.StartsWith("auth/", StringComparison.Ordinal) => CallToolAsync(Options(server) with { Authorization = SignIn(context) }, "test-tool", [], cancellationToken),
        _ => throw new InvalidOperationException($"unknown scenario '{scenario}'"),
    };

    private static TributaryClientOptions Options(Uri server) => new() { Endpoint = server, RequestTimeout = TimeSpan.FromSeconds(20) };

    /// <summary>Authorization code with PKCE: a registered client when the suite names one, else a metadata document or dynamic registration; a headless browser.</summary>
    private static OAuthAuthorizationCode SignIn(ConformanceContext context) => new()
    {
        ClientId = context.Find("client_id"),
        ClientSecret = context.Find("client_secret"),
        ClientMetadataDocument = ClientMetadataDocument,
        ClientName = "Tributary conformance client",
        OpenAuthorizationPage = HeadlessBrowser.OpenAsync,
    };

    private static async Task ListToolsAsync(TributaryClientOptions options, CancellationToken cancellationToken)
    {
        await using var client = await TributaryClient.ConnectAsync(options, cancellationToken);
        await client.Mcp.ListToolsAsync(cancellationToken: cancellationToken);
    }

    private static async Task CallToolAsync(TributaryClientOptions options, string tool, Dictionary<string, object?> arguments, CancellationToken cancellationToken)
    {
        await using var client = await TributaryClient.ConnectAsync(options, cancellationToken);
        var tools = await client.Mcp.ListToolsAsync(cancellationToken: cancellationToken);
        var result = await tools.Single(t => t.Name == tool).CallAsync(arguments, cancellationToken: cancellationToken);
        if (result.IsError == true)
        {
            throw new InvalidOperationException($"{tool} answered with an error: {string.Concat(result.Content.OfType<TextContentBlock>().Select(b => b.Text))}");
        }
    }

    /// <summary>Accepts with no values: the SDK fills in every default the form declares.</summary>
    private static ValueTask<ElicitResult> AcceptWithDefaults(ElicitRequestParams? request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new ElicitResult { Action = "accept", Content = new Dictionary<string, JsonElement>() });

    /// <summary>
    /// Cross-app access (SEP-990): the identity provider exchanges the user's ID token for an identity assertion grant, the
    /// server's authorization server exchanges that for an access token (the SDK's provider does both), used as a bearer token.
    /// </summary>
    private static async Task CrossAppAccessAsync(Uri server, ConformanceContext context, CancellationToken cancellationToken)
    {
        using var http = new HttpClient();
        var metadata = await http.GetFromJsonAsync<JsonElement>(new Uri(server, $"/.well-known/oauth-protected-resource{server.AbsolutePath.TrimEnd('/')}"), cancellationToken);
        var provider = new IdentityAssertionGrantProvider(new IdentityAssertionGrantProviderOptions
        {
            ClientId = context.Get("client_id"),
            ClientSecret = context.Get("client_secret"),
            TokenEndpointAuthMethod = "client_secret_basic",
            IdpClientId = context.Get("idp_client_id"),
            IdpTokenEndpoint = context.Get("idp_token_endpoint"),
            IdTokenCallback = (_, _) => Task.FromResult(context.Get("idp_id_token")),
        }, http);
        var tokens = await provider.GetAccessTokenAsync(
            new Uri(metadata.GetProperty("resource").GetString()!),
            new Uri(metadata.GetProperty("authorization_servers")[0].GetString()!),
            cancellationToken);
        await CallToolAsync(Options(server) with { BearerToken = tokens.AccessToken }, "test-tool", [], cancellationToken);
    }
}
