using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Tributary.Core.Configuration;
using Tributary.Server.Auth;
using Tributary.Server.Hosting;
using Tributary.Server.State;

namespace Tributary.Bench.Micro;

/// <summary>
/// What authentication adds to one HTTP request, in process: the HTTP pipeline Tributary builds (safety checks, then with
/// <c>auth</c> the authentication middleware and the gate), fed the point query's <c>tools/call</c> POST as the SDK client
/// sends it (chunked, no Content-Length), and ended by routing (no endpoint runs, so MCP itself is not measured). The
/// baseline is the same pipeline of a server without <c>auth</c>; the API key and the bearer token (validated once, then
/// from the cache) go through a server with <c>api_keys</c> and <c>oauth</c> (static keys).
/// </summary>
[MemoryDiagnoser]
public class AuthPipeline : IAsyncDisposable
{
    private const int Port = 8080;
    private const string Body = """{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"query","arguments":{"source":"shop","sql":"SELECT * FROM orders WHERE id = @id","params":{"id":4242}},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}""";

    private readonly byte[] _body = Encoding.UTF8.GetBytes(Body);
    private readonly List<IAsyncDisposable> _apps = [];
    private string _directory = null!;
    private RequestDelegate _plain = null!;
    private RequestDelegate _secured = null!;
    private IServiceProvider _plainServices = null!;
    private IServiceProvider _securedServices = null!;
    private string _key = null!;
    private string _token = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), $"tributary-micro-auth-{Environment.ProcessId}");
        Directory.CreateDirectory(_directory);
        using var rsa = RSA.Create(2048);
        var signingKey = new RsaSecurityKey(rsa.ExportParameters(includePrivateParameters: true)) { KeyId = "bench" };
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.ExportParameters(includePrivateParameters: false)) { KeyId = "bench" });
        var jwks = Path.Combine(_directory, "jwks.json");
        await File.WriteAllTextAsync(jwks, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["keys"] = new[] { new Dictionary<string, string> { ["kty"] = "RSA", ["kid"] = jwk.Kid, ["n"] = jwk.N, ["e"] = jwk.E, ["use"] = "sig" } },
        }));

        var loader = new ConfigLoader(SourceProviders.All);
        var plain = loader.Load($$"""
            server: { data_dir: {{_directory}}/plain }
            sources:
              shop: { kind: sqlite, path: {{Demo.DatabasePath}} }
            """, _directory);
        var secured = loader.Load($$"""
            server:
              data_dir: {{_directory}}/secured
              public_url: http://127.0.0.1:{{Port}}
            sources:
              shop: { kind: sqlite, path: {{Demo.DatabasePath}} }
            auth:
              api_keys: true
              oauth: { issuer: "https://issuer.example.com/", jwks_file: {{jwks}} }
              rate_limit: { per_minute: 10000000, burst: 1000000 }
            """, _directory);
        using (var keys = new ApiKeyStore(StateStore.PathIn(secured)))
        {
            _key = keys.Create("bench", ["sources:shop:read"], null).Secret;
        }

        _token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "https://issuer.example.com/",
            Audience = TributaryAuthentication.ResourceUri(secured),
            Subject = new ClaimsIdentity([new Claim("sub", "bench-client"), new Claim("scope", "sources:shop:read")]),
            Expires = DateTime.UtcNow.AddHours(10),
            SigningCredentials = new SigningCredentials(signingKey, SecurityAlgorithms.RsaSha256),
        });
        (_plain, _plainServices) = Pipeline(plain);
        (_secured, _securedServices) = Pipeline(secured);

        // Every variant must get through (routing then answers 404, as no endpoint runs here).
        foreach (var (name, run) in new (string, Func<Task<int>>)[] { ("no auth", NoAuth), ("API key", ApiKey), ("bearer", Bearer) })
        {
            if (await run() != StatusCodes.Status404NotFound)
            {
                throw new InvalidOperationException($"{name}: the request did not pass the auth layer");
            }
        }
    }

    [GlobalCleanup]
    public async ValueTask DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
        GC.SuppressFinalize(this);
    }

    [Benchmark(Baseline = true, Description = "no auth")]
    public Task<int> NoAuth() => SendAsync(_plain, _plainServices, null);

    [Benchmark(Description = "API key (Bearer trib_...)")]
    public Task<int> ApiKey() => SendAsync(_secured, _securedServices, _key);

    [Benchmark(Description = "OAuth bearer token (cached)")]
    public Task<int> Bearer() => SendAsync(_secured, _securedServices, _token);

    /// <summary>
    /// The three variants in turn, 9 rounds of 100,000 requests each, timed by the process's CPU time (user and system,
    /// all threads, so garbage collection counts) rather than wall time, which other processes on the cores disturb; prints
    /// the median µs of CPU per request and the difference to no auth.
    /// </summary>
    public static async Task MeasureCpuAsync(TextWriter output)
    {
        var bench = new AuthPipeline();
        await bench.Setup();
        try
        {
            var variants = new (string Name, Func<Task<int>> Run)[] { ("no auth", bench.NoAuth), ("API key", bench.ApiKey), ("OAuth bearer token", bench.Bearer) };
            var samples = variants.ToDictionary(v => v.Name, _ => new List<double>());
            const int Calls = 100_000;
            for (var round = -1; round < 9; round++)
            {
                foreach (var (name, run) in variants)
                {
                    using var process = System.Diagnostics.Process.GetCurrentProcess();
                    var before = process.TotalProcessorTime;
                    for (var i = 0; i < Calls; i++)
                    {
                        await run();
                    }

                    process.Refresh();
                    if (round >= 0)
                    {
                        // Round -1 warms up (tiered compilation).
                        samples[name].Add((process.TotalProcessorTime - before).TotalMicroseconds / Calls);
                    }
                }
            }

            var baseline = Median(samples["no auth"]);
            foreach (var (name, _) in variants)
            {
                var median = Median(samples[name]);
                await output.WriteLineAsync(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{name,-20} {median,6:0.00} µs CPU/request (+{median - baseline:0.00}); rounds {string.Join(' ', samples[name].Select(s => s.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)))}"));
            }
        }
        finally
        {
            await bench.DisposeAsync();
        }

        static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
    }

    private (RequestDelegate Pipeline, IServiceProvider Services) Pipeline(TributaryConfig config)
    {
        var app = TributaryHosts.CreateHttp(config, new HttpEndpoint(IPAddress.Loopback, Port), LogLevel.Warning);
        _apps.Add(app);
        return (((IApplicationBuilder)app).Build(), app.Services);
    }

    private async Task<int> SendAsync(RequestDelegate pipeline, IServiceProvider services, string? credential)
    {
        await using var scope = services.CreateAsyncScope();
        var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        context.Connection.LocalPort = Port;
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        var request = context.Request;
        request.Method = HttpMethods.Post;
        request.Scheme = "http";
        request.Host = new HostString("127.0.0.1", Port);
        request.Path = "/unrouted"; // through the whole auth layer, then no endpoint: routing answers 404
        request.ContentType = "application/json";
        request.Headers.Accept = "application/json, text/event-stream";
        request.Headers["MCP-Protocol-Version"] = "2026-07-28";
        request.Headers["Mcp-Method"] = "tools/call";
        request.Headers["Mcp-Name"] = "query";
        if (credential is not null)
        {
            request.Headers.Authorization = "Bearer " + credential;
        }

        request.Body = new MemoryStream(_body, writable: false);
        await pipeline(context);
        return context.Response.StatusCode;
    }
}
