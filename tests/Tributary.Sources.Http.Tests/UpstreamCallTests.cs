using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Server.Hosting;
using Tributary.Testing;

namespace Tributary.Sources.Http.Tests;

/// <summary>One send path for every call of an HTTP source: methods, bodies, default headers, signatures, and which calls may be retried or cached.</summary>
public sealed class UpstreamCallTests
{
    private const string Secret = "signing-secret-5b7e0c";

    [Theory]
    [InlineData("POST", 1)]
    [InlineData("PATCH", 1)]
    [InlineData("PUT", 3)]
    [InlineData("DELETE", 3)]
    [InlineData("GET", 3)]
    public async Task A_failing_call_is_retried_only_when_its_method_is_idempotent(string method, int tries)
    {
        await using var upstream = new RecordingUpstream(_ => (500, "text/plain", "down"));
        var source = TestSources.Create(upstream.Url("/v1"), ("retries", "2"));
        var (response, _) = await source.CallAsync(new UpstreamCall(new HttpMethod(method), "/things", [], method is "POST" or "PATCH" or "PUT" ? """{"a":1}"""u8.ToArray() : null), CancellationToken.None);
        Assert.Equal(500, response.Status);
        Assert.Equal(tries, upstream.Requests.Count);
        Assert.All(upstream.Requests, r => Assert.Equal(method, r.Method));
    }

    [Fact]
    public async Task A_post_sends_its_json_body_and_is_never_cached()
    {
        await using var upstream = new RecordingUpstream(_ => (201, "application/json", """{"id":9}"""));
        var source = TestSources.Create(upstream.Url("/v1"), ("cache_ttl", "1h"));
        var call = new UpstreamCall(HttpMethod.Post, "/tickets", [new("notify", "true")], """{"title":"Printer on fire"}"""u8.ToArray());
        var (first, cache) = await source.CallAsync(call, CancellationToken.None);
        await source.CallAsync(call, CancellationToken.None);

        Assert.Equal((201, CacheOutcome.Miss), (first.Status, cache));
        Assert.Equal(2, upstream.Requests.Count);
        var seen = upstream.Requests[0];
        Assert.Equal(("POST", "/v1/tickets?notify=true", """{"title":"Printer on fire"}"""), (seen.Method, seen.Target, seen.Body));
        Assert.StartsWith("application/json", seen.Headers["Content-Type"], StringComparison.Ordinal);

        await source.FetchAsync("/tickets", [], CancellationToken.None);
        var (_, again) = await source.FetchAsync("/tickets", [], CancellationToken.None);
        Assert.Equal(CacheOutcome.Hit, again);
        Assert.Equal(3, upstream.Requests.Count);
    }

    [Fact]
    public async Task Default_headers_go_with_every_call_beside_the_credentials()
    {
        await using var upstream = new RecordingUpstream(_ => (200, "application/json", "{}"));
        var source = Configured(upstream, """
              bearer_token: upstream-token
              headers:
                Accept: application/vnd.github+json
                X-Team: data, platform
            """);
        await source.FetchAsync("/a", [], CancellationToken.None);
        await source.CallAsync(new UpstreamCall(HttpMethod.Delete, "/a", []), CancellationToken.None);

        Assert.All(upstream.Requests, r =>
        {
            Assert.Equal("application/vnd.github+json", r.Headers["Accept"]);
            Assert.Equal("data, platform", r.Headers["X-Team"]);
            Assert.Equal("Bearer upstream-token", r.Headers["Authorization"]);
        });
    }

    [Fact]
    public async Task Every_try_is_signed_over_time_method_path_and_body_and_the_api_can_check_it()
    {
        var tries = 0;
        await using var upstream = new RecordingUpstream(_ => Interlocked.Increment(ref tries) == 1 ? (503, "text/plain", "busy") : (200, "application/json", "{}"));
        var source = Configured(upstream, $"""
              hmac_secret: {Secret}
              retries: 1
            """);
        await source.CallAsync(new UpstreamCall(HttpMethod.Put, "/items/a%2Fb", [new("v", "1 2")], """{"name":"x"}"""u8.ToArray()), CancellationToken.None);

        Assert.Equal(2, upstream.Requests.Count);
        Assert.All(upstream.Requests, r =>
        {
            Assert.Equal("/v1/items/a%2Fb?v=1%202", r.Target);
            Assert.True(Verifies(r, Secret), $"the signature {r.Headers["X-Tributary-Signature"]} does not verify");
            Assert.False(Verifies(r, Secret + "x"));
        });
    }

    [Fact]
    public async Task A_redirect_on_the_apis_origin_is_signed_again_for_its_own_method_path_and_body_and_another_origin_gets_no_signature()
    {
        await using var elsewhere = new RecordingUpstream(_ => (200, "application/json", "{}"));
        await using var upstream = new RecordingUpstream(request => request.Target switch
        {
            "/v1/items/7?v=1" => (307, "", "/v1/moved/items/7?v=1"),
            "/v1/tickets" => (303, "", "/v1/tickets/12"),
            "/v1/old" => (301, "", "/v1/new?page=2"),
            "/v1/away" => (302, "", elsewhere.Url("/landing")),
            _ => (200, "application/json", "{}"),
        });
        var source = Configured(upstream, $"""
              hmac_secret: {Secret}
            """);

        await source.CallAsync(new UpstreamCall(HttpMethod.Put, "/items/7", [new("v", "1")], """{"name":"x"}"""u8.ToArray()), CancellationToken.None);
        await source.CallAsync(new UpstreamCall(HttpMethod.Post, "/tickets", [], """{"title":"y"}"""u8.ToArray()), CancellationToken.None);
        await source.FetchAsync("/old", [], CancellationToken.None);
        await source.FetchAsync("/away", [], CancellationToken.None);

        // A 307 keeps the method and the body; a 303 makes a GET without one; each hop verifies at its own path.
        var seen = upstream.Requests.Select(r => (r.Method, r.Target, r.Body)).ToList();
        Assert.Equal(
            [("PUT", "/v1/items/7?v=1", """{"name":"x"}"""), ("PUT", "/v1/moved/items/7?v=1", """{"name":"x"}"""), ("POST", "/v1/tickets", """{"title":"y"}"""), ("GET", "/v1/tickets/12", ""), ("GET", "/v1/old", ""), ("GET", "/v1/new?page=2", ""), ("GET", "/v1/away", "")],
            seen);
        Assert.All(upstream.Requests, r => Assert.True(Verifies(r, Secret), $"{r.Method} {r.Target}: the signature {r.Headers["X-Tributary-Signature"]} does not verify"));
        var landed = Assert.Single(elsewhere.Requests);
        Assert.Null(landed.Headers["X-Tributary-Signature"]);
    }

    [Fact]
    public async Task The_signature_goes_in_the_configured_header()
    {
        await using var upstream = new RecordingUpstream(_ => (200, "application/json", "{}"));
        var source = Configured(upstream, $"""
              hmac_secret: {Secret}
              hmac_header: X-Signature
            """);
        await source.FetchAsync("/a", [], CancellationToken.None);
        var seen = Assert.Single(upstream.Requests);
        Assert.Null(seen.Headers["X-Tributary-Signature"]);
        Assert.True(Verifies(seen, Secret, "X-Signature"));
    }

    [Theory]
    [InlineData("headers: { Host: evil.example }", "sources.api.headers.Host", "managed by Tributary's HTTP client")]
    [InlineData("headers: { Connection: close }", "sources.api.headers.Connection", "managed by Tributary's HTTP client")]
    [InlineData("headers: { Transfer-Encoding: chunked }", "sources.api.headers.Transfer-Encoding", "managed by Tributary's HTTP client")]
    [InlineData("headers: { Content-Length: \"5\" }", "sources.api.headers.Content-Length", "managed by Tributary's HTTP client")]
    [InlineData("headers: { X-Team: \"a\\r\\nX-Admin: 1\" }", "sources.api.headers.X-Team", "holds a line break")]
    [InlineData("headers: { X-Team: \"a\\nb\" }", "sources.api.headers.X-Team", "holds a line break")]
    [InlineData("headers: { \"X Team\": a }", "sources.api.headers.X Team", "is not a header name")]
    [InlineData("headers: \"Accept: text/plain\"", "sources.api.headers", "write the headers as a mapping")]
    [InlineData("headers: [Accept]", "sources.api.headers", "write the headers as a mapping")]
    [InlineData("bearer_token: t\n    headers: { authorization: Basic eA== }", "sources.api.headers.authorization", "set by the source's credentials")]
    [InlineData("hmac_secret: s\n    headers: { X-Tributary-Signature: x }", "sources.api.headers.X-Tributary-Signature", "set by the source's credentials or signature")]
    [InlineData("api_key_header: Host\n    api_key: k", "sources.api.api_key_header", "managed by Tributary's HTTP client")]
    [InlineData("api_key_header: X-Key\n    api_key: \"k\\r\\nX-Admin: 1\"", "sources.api.api_key_header", "holds a line break")]
    [InlineData("hmac_header: X-Sig", "sources.api.hmac_header", "no hmac_secret signs")]
    [InlineData("hmac_secret: \"\"", "sources.api.hmac_secret", "is empty")]
    [InlineData("hmac_secret: s\n    hmac_header: \"X-Sig\\n\"", "sources.api.hmac_header", "is not a header name")]
    public void Bad_headers_and_signing_settings_are_refused_at_start_up(string settings, string path, string message)
    {
        var error = Assert.Throws<ConfigException>(() => Load(settings));
        Assert.Contains(error.Errors, e => e.Path == path && e.Message.Contains(message, StringComparison.Ordinal));
    }

    private static TributaryConfig Load(string settings) =>
        new ConfigLoader(SourceProviders.All).Load($"sources:\n  api:\n    kind: http\n    base_url: http://127.0.0.1:9/v1\n    allowed_ranges: [127.0.0.1/32]\n    {settings}\n", "/");

    private static HttpSource Configured(RecordingUpstream upstream, string settings)
    {
        var config = new ConfigLoader(SourceProviders.All).Load($"sources:\n  api:\n    kind: http\n    base_url: {upstream.Url("/v1")}\n    allowed_ranges: [127.0.0.1/32]\n{string.Join('\n', settings.Split('\n').Select(line => "  " + line))}", "/");
        return (HttpSource)new HttpProvider().Create(config.Sources[0], new Core.Sources.SourceContext("/"));
    }

    /// <summary>Checks a request's signature as an API would: HMAC-SHA256 of <c>t.METHOD.path_and_query.body</c>, computed here from what arrived.</summary>
    private static bool Verifies(RecordedRequest request, string secret, string header = "X-Tributary-Signature")
    {
        var parts = request.Headers[header]!.Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var signed = $"{parts["t"]}.{request.Method}.{request.Target}.{request.Body}";
        var expected = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(signed)));
        var age = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - long.Parse(parts["t"], CultureInfo.InvariantCulture);
        return parts["v1"] == expected && age is >= 0 and < 300;
    }
}
