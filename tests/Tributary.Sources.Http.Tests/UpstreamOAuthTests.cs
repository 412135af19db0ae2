using System.Text;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Sources;
using Tributary.Sources.Http;
using Tributary.Testing;

namespace Tributary.Sources.Http.Tests;

/// <summary>An HTTP source with its own OAuth 2.1 client credentials, against the real OpenIddict server and an API on loopback.</summary>
public sealed class UpstreamOAuthTests
{
    [Fact]
    public async Task The_source_gets_its_own_token_keeps_it_and_renews_it_when_the_api_refuses_it()
    {
        await using var issuer = await TestAuthorizationServer.StartAsync();
        var seen = new List<string?>();
        var refuseNext = false;
        await using var api = LoopbackHttpServer.Start((context, _) =>
        {
            var authorization = context.Request.Headers["Authorization"];
            bool refuse;
            lock (seen)
            {
                seen.Add(authorization);
                refuse = refuseNext;
                refuseNext = false;
            }

            context.Response.StatusCode = refuse ? 401 : 200;
            return LoopbackHttpServer.AnswerAsync(context, "application/json", """{"ok":true}"""u8.ToArray());
        });

        await using var source = Source(api, issuer, issuer.ConfidentialClient.Secret!);
        await source.FetchAsync("/a", [], CancellationToken.None);
        await source.FetchAsync("/b", [], CancellationToken.None);
        lock (seen)
        {
            Assert.All(seen, s => Assert.StartsWith("Bearer ey", s, StringComparison.Ordinal));
            Assert.Equal(seen[0], seen[1]);
        }

        // The API refuses the token (revoked, say): one new token, and the call goes through.
        lock (seen)
        {
            refuseNext = true;
        }

        var answer = await source.FetchAsync("/c", [], CancellationToken.None);
        Assert.Equal(200, answer.Response.Status);
        lock (seen)
        {
            Assert.Equal(4, seen.Count);
            Assert.Equal(seen[0], seen[2]);
            Assert.NotEqual(seen[2], seen[3]);
        }
    }

    [Fact]
    public async Task Refused_client_credentials_are_a_clear_error_without_the_secret()
    {
        await using var issuer = await TestAuthorizationServer.StartAsync();
        await using var api = LoopbackHttpServer.Start((context, _) => LoopbackHttpServer.AnswerAsync(context, "text/plain", "never"u8.ToArray()));
        await using var source = Source(api, issuer, "wrong-secret-5d2c");
        var error = await Assert.ThrowsAsync<ToolException>(() => source.FetchAsync("/a", [], CancellationToken.None));
        Assert.Contains("refused the source's client credentials", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-secret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_token_endpoint_that_is_not_https_is_refused_at_start_up()
    {
        var errors = new ConfigErrors();
        Assert.Null(HttpProvider.Read(new SourceConfig { Name = "api", Kind = "http", Settings = new Dictionary<string, string> { ["base_url"] = "https://api.example.com", ["oauth_token_url"] = "http://login.example.com/token", ["oauth_client_id"] = "a", ["oauth_client_secret"] = "b" } }, new SourceContext("/"), errors));
        Assert.Contains(errors.All, e => e.ToString().Contains("not an https URL", StringComparison.Ordinal));
    }

    private static HttpSource Source(LoopbackHttpServer api, TestAuthorizationServer issuer, string secret) =>
        TestSources.Create(
            $"http://127.0.0.1:{api.Port}/v1",
            ("retries", "0"),
            ("oauth_token_url", issuer.TokenEndpoint.ToString()),
            ("oauth_client_id", issuer.ConfidentialClient.Id),
            ("oauth_client_secret", secret),
            ("oauth_resource", $"http://127.0.0.1:{api.Port}/v1"));
}
