using System.IO.Compression;
using System.Net;
using System.Text;
using Tributary.Sources.Http;
using Tributary.Testing;

namespace Tributary.Sources.Http.Tests;

/// <summary>The SSRF guard and the bounds, against real upstreams on loopback that misbehave on demand.</summary>
public sealed class UpstreamClientTests
{
    private static readonly IPNetwork Loopback1 = IPNetwork.Parse("127.0.0.1/32");

    [Fact]
    public async Task An_allowed_host_in_an_allowed_range_answers()
    {
        await using var upstream = LoopbackHttpServer.Start((context, _) => LoopbackHttpServer.AnswerAsync(context, "application/json", """{"ok":true}"""u8.ToArray()));
        using var client = new UpstreamClient(new UpstreamPolicy { AllowedHosts = ["127.0.0.1"], AllowedRanges = [Loopback1] });
        var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(upstream.BaseAddress, "/items")), CancellationToken.None);
        Assert.Equal(200, response.Status);
        Assert.Equal("application/json", response.ContentType);
        Assert.Equal("""{"ok":true}""", Encoding.UTF8.GetString(response.Body));
    }

    /// <summary>The list: each URL is refused before any byte leaves, with a message that says why.</summary>
    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/", "link-local")]
    [InlineData("http://[::ffff:127.0.0.1]/", "loopback")]
    [InlineData("http://2130706433/", "loopback")]
    [InlineData("http://0177.0.0.1/", "loopback")]
    [InlineData("http://api.example.test/", "resolves to a loopback address")]
    [InlineData("file:///etc/passwd", "only http and https")]
    [InlineData("gopher://api.example.test/", "only http and https")]
    [InlineData("http://api.example.test@127.0.0.1/", "user info")]
    [InlineData("http://evil.example.test/", "not one of this source's allowed hosts")]
    public async Task Private_targets_other_schemes_and_user_info_are_refused(string url, string reason)
    {
        // Every host of the list is allowed by name, so what refuses the numeric forms is the address check at connect time.
        var policy = new UpstreamPolicy { AllowedHosts = ["api.example.test", "169.254.169.254", "127.0.0.1", "::ffff:127.0.0.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"] };
        using var client = new UpstreamClient(policy, PublicLookingNames);
        var error = await Assert.ThrowsAsync<UpstreamException>(() => client.SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(url)), CancellationToken.None));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_redirect_to_a_private_address_is_checked_again_and_refused()
    {
        // The first hop is allowed (127.0.0.1 by range); it sends the client to a name that resolves to 127.0.0.2, which is not.
        await using var upstream = LoopbackHttpServer.Start((context, _) => Redirect(context, "http://internal.example.test/secrets"));
        var policy = new UpstreamPolicy { AllowedHosts = ["127.0.0.1", "internal.example.test"], AllowedRanges = [Loopback1] };
        using var client = new UpstreamClient(policy, PublicLookingNames);
        var error = await Assert.ThrowsAsync<UpstreamException>(() => client.SendAsync(new HttpRequestMessage(HttpMethod.Get, upstream.BaseAddress), CancellationToken.None));
        Assert.Contains("'internal.example.test' resolves to a loopback address", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Redirects_are_bounded_and_credentials_stay_with_their_origin()
    {
        var seen = new List<(int Port, string Path, string? Authorization, string? Key, string? Team)>();
        LoopbackHttpServer? elsewhere = null;
        Func<HttpListenerContext, CancellationToken, Task> handle = (context, _) =>
        {
            var path = context.Request.Url!.AbsolutePath;
            lock (seen)
            {
                seen.Add((context.Request.Url.Port, path, context.Request.Headers["Authorization"], context.Request.Headers["X-Auth"], context.Request.Headers["X-Team"]));
            }

            return path switch
            {
                "/to-same" => Redirect(context, "/final"),
                "/to-other" => Redirect(context, $"http://127.0.0.1:{elsewhere!.Port}/final"),
                "/loop" => Redirect(context, "/loop"),
                _ => LoopbackHttpServer.AnswerAsync(context, "text/plain", "here"u8.ToArray()),
            };
        };
        await using var origin = LoopbackHttpServer.Start(handle);
        await using (elsewhere = LoopbackHttpServer.Start(handle))
        {
            using var client = new UpstreamClient(new UpstreamPolicy { AllowedHosts = ["127.0.0.1"], AllowedRanges = [Loopback1], CredentialHeaders = ["x-auth"] });
            async Task<string> GetAsync(string path)
            {
                var request = new HttpRequestMessage(HttpMethod.Get, new Uri(origin.BaseAddress, path));
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "upstream-secret");
                request.Headers.Add("X-Auth", "upstream-key");
                request.Headers.Add("X-Team", "data");
                return Encoding.UTF8.GetString((await client.SendAsync(request, CancellationToken.None)).Body);
            }

            // The same origin keeps the source's credentials; another origin (here another port) does not get them.
            Assert.Equal("here", await GetAsync("/to-same"));
            Assert.Equal("here", await GetAsync("/to-other"));
            lock (seen)
            {
                var same = seen.Single(s => s.Port == origin.Port && s.Path == "/final");
                Assert.Equal(("Bearer upstream-secret", "upstream-key", "data"), (same.Authorization, same.Key, same.Team));
                var other = seen.Single(s => s.Port == elsewhere.Port);
                Assert.Equal((null, null, "data"), (other.Authorization, other.Key, other.Team));
            }

            var loop = await Assert.ThrowsAsync<UpstreamException>(() => GetAsync("/loop"));
            Assert.Contains("redirected more than 5 times", loop.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_gzip_bomb_a_huge_body_and_a_silent_upstream_end_in_clear_errors()
    {
        var bomb = Gzip(new byte[64 * 1024 * 1024]);
        await using var upstream = LoopbackHttpServer.Start(async (context, stop) =>
        {
            switch (context.Request.Url!.AbsolutePath)
            {
                case "/bomb":
                    context.Response.AddHeader("Content-Encoding", "gzip");
                    await LoopbackHttpServer.AnswerAsync(context, "application/json", bomb);
                    break;
                case "/huge":
                    // 100 MB, streamed without a length.
                    context.Response.SendChunked = true;
                    var chunk = new byte[1024 * 1024];
                    try
                    {
                        for (var i = 0; i < 100; i++)
                        {
                            await context.Response.OutputStream.WriteAsync(chunk, stop);
                        }

                        context.Response.Close();
                    }
                    catch (Exception e) when (e is HttpListenerException or IOException or OperationCanceledException)
                    {
                        // The client stopped reading: as it should.
                    }

                    break;
                case "/declared":
                    context.Response.ContentLength64 = 200L * 1024 * 1024;
                    context.Response.Abort();
                    break;
                default:
                    try
                    {
                        await Task.Delay(Timeout.Infinite, stop);
                    }
                    catch (OperationCanceledException)
                    {
                        context.Response.Abort();
                    }

                    break;
            }
        });
        var policy = new UpstreamPolicy
        {
            AllowedHosts = ["127.0.0.1"],
            AllowedRanges = [Loopback1],
            MaxResponseBytes = 4 * 1024 * 1024,
            MaxDecompressedBytes = 8 * 1024 * 1024,
        };
        using var client = new UpstreamClient(policy);
        using var impatient = new UpstreamClient(policy with { TotalTimeout = TimeSpan.FromSeconds(1) });
        Task<UpstreamResponse> Get(UpstreamClient through, string path) => through.SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(upstream.BaseAddress, path)), CancellationToken.None);

        Assert.Contains("decompresses to more than", (await Assert.ThrowsAsync<UpstreamException>(() => Get(client, "/bomb"))).Message, StringComparison.Ordinal);
        Assert.Contains("over this source's limit of 4194304 bytes", (await Assert.ThrowsAsync<UpstreamException>(() => Get(client, "/huge"))).Message, StringComparison.Ordinal);
        Assert.Contains("the answer is 209715200 bytes", (await Assert.ThrowsAsync<UpstreamException>(() => Get(client, "/declared"))).Message, StringComparison.Ordinal);
        var silent = await Assert.ThrowsAsync<UpstreamException>(() => Get(impatient, "/silent"));
        Assert.Contains("did not answer within 1 s", silent.Message, StringComparison.Ordinal);
        Assert.True(silent.Transient);
    }

    /// <summary>A resolver like a hostile DNS: public-looking names that point at loopback addresses.</summary>
    private static Task<IPAddress[]> PublicLookingNames(string host, CancellationToken cancellationToken) =>
        Task.FromResult(host switch
        {
            "api.example.test" => new[] { IPAddress.Loopback },
            "internal.example.test" => [IPAddress.Parse("127.0.0.2")],
            _ => [],
        });

    private static Task Redirect(HttpListenerContext context, string location)
    {
        context.Response.StatusCode = 302;
        context.Response.RedirectLocation = location;
        context.Response.Close();
        return Task.CompletedTask;
    }

    private static byte[] Gzip(byte[] data)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.SmallestSize))
        {
            gzip.Write(data);
        }

        return buffer.ToArray();
    }
}
