using System.Text;
using Microsoft.Extensions.Caching.Hybrid;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Queries;
using Tributary.Core.Security;
using Tributary.Core.Sources;

namespace Tributary.Sources.Http;

/// <summary>
/// A REST API as a source: <c>fetch</c> and named HTTP tools call paths under its base URL through the
/// <see cref="UpstreamClient"/> guard, with retries and a circuit breaker (<see cref="ResilientUpstream"/>) and the
/// source's own headers (its credentials and default headers, and its signature): never the caller's. It has no
/// tables, so SQL tools refuse it.
/// </summary>
public sealed class HttpSource : IDataSource
{
    private readonly HttpSourceSettings _settings;
    private readonly UpstreamClient _client;
    private readonly ResilientUpstream _upstream;
    private readonly ResponseCache _cache;
    private readonly UpstreamToken? _token;
    private readonly TimeProvider _time;

    internal HttpSource(SourceConfig config, HttpSourceSettings settings, HybridCache? cache, Func<string, ValueTask>? changed = null, TimeProvider? time = null)
    {
        Name = config.Name;
        Description = config.Description;
        _settings = settings;
        _client = new UpstreamClient(settings.Policy);
        _upstream = new ResilientUpstream(_client, config.Name, settings.Resilience);
        _time = time ?? TimeProvider.System;
        _cache = new ResponseCache(config.Name, settings.Cache, cache, changed, _time);
        _token = settings.OAuth is { } oauth ? new UpstreamToken(oauth, config.Name) : null;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public string Kind => HttpProvider.KindName;

    /// <inheritdoc />
    public string Description { get; }

    /// <inheritdoc />
    public bool IsReadOnly => true;

    /// <summary>The API's base URL.</summary>
    public Uri BaseUrl => _settings.BaseUrl;

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListTablesAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<string>>([]);

    /// <inheritdoc />
    public Task<DatabaseSchema> DescribeAsync(string? table, CancellationToken cancellationToken) => throw NotSql();

    /// <inheritdoc />
    public Task QueryAsync(QueryRequest request, QueryResultWriter output, CancellationToken cancellationToken) => throw NotSql();

    /// <summary>A GET of <paramref name="path"/> with <paramref name="query"/>: see <see cref="CallAsync"/>.</summary>
    public Task<(UpstreamResponse Response, CacheOutcome Cache)> FetchAsync(string path, IReadOnlyList<KeyValuePair<string, string>> query, CancellationToken cancellationToken) =>
        CallAsync(new UpstreamCall(HttpMethod.Get, path, query), cancellationToken);

    /// <summary>
    /// Calls the API: <see cref="UpstreamCall.Path"/> (relative to the base URL) with its query appended and its JSON body.
    /// A GET goes through the source's cache (fresh answers, and the last good one while the API fails); other methods
    /// are never cached, and one that succeeds (other than HEAD) drops the source's fresh answers. Anything the guard
    /// refuses, a timeout or an unreachable API with nothing cached is a <see cref="ToolException"/> that says why,
    /// naming no internal address.
    /// </summary>
    public async Task<(UpstreamResponse Response, CacheOutcome Cache)> CallAsync(UpstreamCall call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        var path = call.Path;
        if (!path.StartsWith('/') || path.StartsWith("//", StringComparison.Ordinal) || path.Contains('\\', StringComparison.Ordinal) || path.Contains('#', StringComparison.Ordinal))
        {
            throw new ToolException($"'{path}' is not a path under {Name}'s base URL: give one that starts with a single '/', such as /repos/octocat/hello-world");
        }

        var url = new StringBuilder(_settings.BaseUrl.GetLeftPart(UriPartial.Path).TrimEnd('/')).Append(path);
        var separator = path.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        foreach (var (key, value) in call.Query)
        {
            url.Append(separator).Append(Uri.EscapeDataString(key)).Append('=').Append(Uri.EscapeDataString(value));
            separator = '&';
        }

        var target = new Uri(url.ToString());
        if (!target.AbsolutePath.StartsWith(_settings.BaseUrl.AbsolutePath.TrimEnd('/') + "/", StringComparison.Ordinal))
        {
            throw new ToolException($"'{path}' leaves {Name}'s base URL (its '..' segments climb out of {_settings.BaseUrl.AbsolutePath}): give a path under it");
        }

        try
        {
            // A shared GET must not end with one caller's cancellation: it runs to its own time budget.
            var answer = call.Method == HttpMethod.Get
                ? await _cache.GetAsync(target.AbsoluteUri, () => SendAsync(call.Method, target, null, CancellationToken.None), call.CacheTtl).WaitAsync(cancellationToken)
                : (await SendAsync(call.Method, target, call.JsonBody, cancellationToken), CacheOutcome.Miss);
            if (call.Method != HttpMethod.Get && call.Method != HttpMethod.Head && answer.Item1.Status is >= 200 and < 300)
            {
                // The call changed something at the API: GETs answered before it are asked again, here and on the other servers.
                await _cache.ForgetFreshAsync();
            }

            HttpSourceMetrics.Answered(Name, answer.Item2);
            return answer;
        }
        catch (UpstreamException e)
        {
            HttpSourceMetrics.Failed(Name);
            throw new ToolException($"{Name}: {e.Message}");
        }
    }

    /// <summary>One call with the source's headers, its signature (fresh for each try and each redirect on the API's origin) and, with OAuth, its token (renewed once when the API refuses it).</summary>
    private async Task<UpstreamResponse> SendAsync(HttpMethod method, Uri target, byte[]? jsonBody, CancellationToken cancellationToken)
    {
        var token = _token is null ? null : await _token.GetAsync(null, cancellationToken);
        var response = await Send(token);
        if (response.Status == 401 && _token is not null)
        {
            response = await Send(await _token.GetAsync(token, cancellationToken));
        }

        return response;

        Task<UpstreamResponse> Send(string? bearer) => _upstream.SendAsync(
            () =>
            {
                var request = new HttpRequestMessage(method, target);
                foreach (var (name, value) in _settings.Headers)
                {
                    request.Headers.TryAddWithoutValidation(name, value);
                }

                if (bearer is not null)
                {
                    request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
                }

                if (jsonBody is not null)
                {
                    request.Content = new ByteArrayContent(jsonBody) { Headers = { ContentType = new("application/json") } };
                }

                if (_settings.Signing is { } signing)
                {
                    Sign(request, signing, jsonBody);
                }

                return request;
            },
            _settings.Signing is { } resigning ? redirected => SignAgain(redirected, resigning, jsonBody) : null,
            cancellationToken);
    }

    /// <summary>
    /// Signs a redirected request for its own method, target and body (a 303 makes a GET without one) where the signature
    /// followed it, that is while the redirects stay on the API's origin; a request to another origin goes unsigned.
    /// </summary>
    private void SignAgain(HttpRequestMessage request, UpstreamSigning signing, byte[]? jsonBody)
    {
        if (request.Headers.Remove(signing.Header))
        {
            Sign(request, signing, request.Content is null ? null : jsonBody);
        }
    }

    /// <summary>Adds the signature of <c>t.METHOD.path_and_query.body</c> for the request as it is sent (<paramref name="jsonBody"/> being its body).</summary>
    private void Sign(HttpRequestMessage request, UpstreamSigning signing, byte[]? jsonBody) =>
        request.Headers.TryAddWithoutValidation(signing.Header, RequestSignature.Sign(signing.Key, _time.GetUtcNow().ToUnixTimeSeconds(), request.Method.Method, request.RequestUri!.PathAndQuery, jsonBody ?? []));

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        _token?.Dispose();
        _cache.Dispose();
        return ValueTask.CompletedTask;
    }

    private ToolException NotSql() => new($"'{Name}' is an HTTP API, not a database: it has no tables; read it with fetch {{source: \"{Name}\", path}}");
}

/// <summary>One call to an HTTP source's API.</summary>
/// <param name="Method">The HTTP method.</param>
/// <param name="Path">The path under the base URL, starting with '/', already escaped.</param>
/// <param name="Query">Query parameters, escaped when the URL is built.</param>
/// <param name="JsonBody">A JSON body (UTF-8), or null for none.</param>
/// <param name="CacheTtl">How long a GET's answer stays fresh for this call (a tool's own cache_ttl), or null for the source's.</param>
public sealed record UpstreamCall(HttpMethod Method, string Path, IReadOnlyList<KeyValuePair<string, string>> Query, byte[]? JsonBody = null, TimeSpan? CacheTtl = null);
