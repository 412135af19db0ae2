using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Web;
using Tributary.Testing;

namespace Tributary.Client.Tests;

/// <summary>
/// A person signing in: OAuth 2.1 authorization code with PKCE through the SDK's OAuth support, against the real OpenIddict
/// authorization server and a real Tributary server, the redirect received on the client's loopback listener.
/// </summary>
public sealed class AuthorizationCodeTests
{
    [Fact]
    public async Task A_person_signs_in_through_the_loopback_redirect_with_pkce_and_steps_up_for_a_scope_the_server_asks_for()
    {
        await using var issuer = await TestAuthorizationServer.StartAsync();
        var (database, data, port) = (DemoDatabase.Copy(), TestPaths.NewTempDirectory(), TestPaths.FreePort());
        var server = new ClientServer(database, data, port, issuer.Issuer);
        await server.InitializeAsync();
        using var browser = new Browser();
        var options = Options(server.McpEndpoint, browser);

        // A session (2025-11-25), so that the restart below ends it and the client must connect anew.
        await using var client = await TributaryClient.ConnectAsync(options with { ProtocolVersion = "2025-11-25", Authorization = options.Authorization! with { Scopes = ["sources:shop:read"] } });
        var reconnected = 0;
        client.StatusChanged += (_, status) => reconnected += status == ConnectionStatus.Connected ? 1 : 0;
        Assert.Equal("shop", Assert.Single((await client.ListSourcesAsync()).Sources).Name);
        Assert.Equal(4, (await client.QueryAsync("shop", "SELECT id FROM orders LIMIT 4").ToListAsync()).Count);

        // One sign-in so far: the page was OpenIddict's, asked for a code with an S256 challenge, for this server, to be
        // sent back to the client's own loopback listener.
        var page = Assert.Single(browser.Opened);
        Assert.StartsWith(issuer.AuthorizationEndpoint.AbsoluteUri, page.AbsoluteUri, StringComparison.Ordinal);
        var query = HttpUtility.ParseQueryString(page.Query);
        Assert.Equal("code", query["response_type"]);
        Assert.Equal("S256", query["code_challenge_method"]);
        Assert.Equal(43, query["code_challenge"]!.Length);
        // The first 401 (for the handshake) names no scope, so the client asks for the reading scopes the server lists.
        Assert.Equal("sources:shop:read topics:orders:read", query["scope"]);
        Assert.Equal(server.McpEndpoint.AbsoluteUri.TrimEnd('/'), query["resource"]!.TrimEnd('/'));
        Assert.StartsWith("http://127.0.0.1:", query["redirect_uri"], StringComparison.Ordinal);
        Assert.Equal("Authorization received. You may close this window.", browser.LastPageText);

        // A topic needs a scope the token lacks: the server's 403 names it, and the person signs in again for it.
        var sequence = await client.PublishAsync("orders", "order.paid", JsonElement.Parse("""{"order_id": 7}"""));
        Assert.True(sequence > 0);
        Assert.Equal(2, browser.Opened.Count);
        Assert.Contains("topics:orders", HttpUtility.ParseQueryString(browser.Opened[1].Query)["scope"], StringComparison.Ordinal);

        // A restarted server means a new connection, which uses the tokens the client already has: nobody signs in again.
        await server.DisposeAsync();
        await using var restarted = new ClientServer(database, data, port, issuer.Issuer);
        await restarted.InitializeAsync();
        Assert.Equal("shop", Assert.Single((await client.ListSourcesAsync()).Sources).Name);
        Assert.Equal(1, reconnected);
        Assert.Equal(2, browser.Opened.Count);
    }

    [Theory]
    [InlineData("javascript:alert(document.cookie)")]
    [InlineData("file:///etc/passwd")]
    [InlineData("http://authorize.example.com/authorize")]
    public async Task An_authorization_endpoint_that_is_not_an_https_url_is_refused_and_never_opened(string endpoint)
    {
        await using var authorizationServer = MetadataOnlyAuthorizationServer(endpoint);
        await using var server = await ClientServer.StartForIssuerAsync(authorizationServer.BaseAddress);
        using var browser = new Browser();

        var error = await Assert.ThrowsAsync<TributaryAuthenticationException>(() => TributaryClient.ConnectAsync(Options(server.McpEndpoint, browser)));

        Assert.Contains(new Uri(endpoint).GetLeftPart(UriPartial.Path), error.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(browser.Opened);
    }

    [Fact]
    public async Task A_server_that_refuses_every_token_ends_in_a_clear_error_after_one_sign_in()
    {
        await using var issuer = await TestAuthorizationServer.StartAsync();

        // Tokens are issued for this server's URI, and it wants another audience: every one of them gets 401.
        await using var server = await ClientServer.StartForIssuerAsync(issuer.Issuer, audience: "https://elsewhere.example.com/mcp");
        using var browser = new Browser();

        var error = await Assert.ThrowsAsync<TributaryAuthenticationException>(() => TributaryClient.ConnectAsync(Options(server.McpEndpoint, browser)));

        Assert.Contains("401", error.Message, StringComparison.Ordinal);
        Assert.Single(browser.Opened);
    }

    [Fact]
    public async Task A_refusal_on_the_authorization_page_ends_in_a_clear_error_that_names_it()
    {
        await using var issuer = await TestAuthorizationServer.StartAsync();
        await using var server = await ClientServer.StartForIssuerAsync(issuer.Issuer);
        var pages = new ConcurrentBag<Uri>();
        var options = new TributaryClientOptions
        {
            Endpoint = server.McpEndpoint,
            Authorization = new OAuthAuthorizationCode
            {
                ClientId = TestAuthorizationServer.DefaultPublicClient.Id,
                RedirectUri = new Uri("http://127.0.0.1:1/callback"),
                Authorize = (page, redirect, _) =>
                {
                    pages.Add(page);
                    return Task.FromResult(new Uri($"{redirect}?error=access_denied&error_description=The+user+declined"));
                },
            },
        };

        var error = await Assert.ThrowsAsync<TributaryAuthenticationException>(() => TributaryClient.ConnectAsync(options));

        Assert.Equal("the authorization server refused the authorization: access_denied: The user declined", error.Message);
        Assert.Single(pages);
    }

    private static TributaryClientOptions Options(Uri endpoint, Browser browser) => new()
    {
        Endpoint = endpoint,
        Authorization = new OAuthAuthorizationCode { ClientId = TestAuthorizationServer.DefaultPublicClient.Id, OpenAuthorizationPage = browser.OpenAsync },
        Retry = new RetryPolicy { Attempts = 2, FirstDelay = TimeSpan.FromMilliseconds(50) },
    };

    /// <summary>An authorization server that serves only its RFC 8414 metadata, naming <paramref name="authorizationEndpoint"/>.</summary>
    private static LoopbackHttpServer MetadataOnlyAuthorizationServer(string authorizationEndpoint)
    {
        LoopbackHttpServer? self = null;
        self = LoopbackHttpServer.Start((context, _) =>
        {
            if (context.Request.Url?.AbsolutePath != "/.well-known/oauth-authorization-server")
            {
                context.Response.StatusCode = 404;
                context.Response.Close();
                return Task.CompletedTask;
            }

            var issuer = self!.BaseAddress.AbsoluteUri;
            return LoopbackHttpServer.AnswerAsync(context, "application/json", Encoding.UTF8.GetBytes($$"""
                {"issuer":"{{issuer}}","authorization_endpoint":"{{authorizationEndpoint}}","token_endpoint":"{{issuer}}token",
                 "response_types_supported":["code"],"code_challenge_methods_supported":["S256"]}
                """));
        });
        return self;
    }

    /// <summary>A person's browser: opens the authorization page and follows its redirects, to the client's loopback listener.</summary>
    private sealed class Browser : IDisposable
    {
        private readonly HttpClient _http = new();
        private readonly ConcurrentQueue<Uri> _opened = new();

        public IReadOnlyList<Uri> Opened => [.. _opened];

        public string? LastPageText { get; private set; }

        public async Task OpenAsync(Uri page, CancellationToken cancellationToken)
        {
            _opened.Enqueue(page);
            var html = await _http.GetStringAsync(page, cancellationToken);
            LastPageText = html[(html.LastIndexOf("<p>", StringComparison.Ordinal) + 3)..];
        }

        public void Dispose() => _http.Dispose();
    }
}
