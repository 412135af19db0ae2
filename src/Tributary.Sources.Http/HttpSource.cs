using System.Text;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Queries;
using Tributary.Core.Sources;

namespace Tributary.Sources.Http;

/// <summary>
/// A REST API as a source: <c>fetch</c> GETs paths under its base URL through the <see cref="UpstreamClient"/> guard,
/// with retries and a circuit breaker (<see cref="ResilientUpstream"/>) and the source's own headers (its credentials):
/// never the caller's. It has no tables, so SQL tools refuse it.
/// </summary>
public sealed class HttpSource : IDataSource
{
    private readonly HttpSourceSettings _settings;
    private readonly UpstreamClient _client;
    private readonly ResilientUpstream _upstream;
    private readonly ResponseCache _cache;
    private readonly UpstreamToken? _token;

    internal HttpSource(SourceConfig config, HttpSourceSettings settings)
    {
        Name = config.Name;
        Description = config.Description;
        _settings = settings;
        _client = new UpstreamClient(settings.Policy);
        _upstream = new ResilientUpstream(_client, config.Name, settings.Resilience);
        _cache = new ResponseCache(settings.Cache, TimeProvider.System);
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

    /// <summary>
    /// GETs <paramref name="path"/> (relative to the base URL) with <paramref name="query"/> appended, through the source's
    /// cache (fresh answers, and the last good one while the API fails). Anything the guard refuses, a timeout or an
    /// unreachable API with nothing cached is a <see cref="ToolException"/> that says why, naming no internal address.
    /// </summary>
    public async Task<(UpstreamResponse Response, CacheOutcome Cache)> FetchAsync(string path, IReadOnlyList<KeyValuePair<string, string>> query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(query);
        if (!path.StartsWith('/') || path.StartsWith("//", StringComparison.Ordinal) || path.Contains('\\', StringComparison.Ordinal) || path.Contains('#', StringComparison.Ordinal))
        {
            throw new ToolException($"'{path}' is not a path under {Name}'s base URL: give one that starts with a single '/', such as /repos/octocat/hello-world");
        }

        var url = new StringBuilder(_settings.BaseUrl.GetLeftPart(UriPartial.Path).TrimEnd('/')).Append(path);
        var separator = path.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        foreach (var (key, value) in query)
        {
            url.Append(separator).Append(Uri.EscapeDataString(key)).Append('=').Append(Uri.EscapeDataString(value));
            separator = '&';
        }

        var target = new Uri(url.ToString());
        try
        {
            // The shared call must not end with one caller's cancellation: it runs to its own time budget.
            var answer = await _cache.GetAsync(target.AbsoluteUri, () => SendAsync(target)).WaitAsync(cancellationToken);
            HttpSourceMetrics.Answered(Name, answer.Outcome);
            return answer;
        }
        catch (UpstreamException e)
        {
            HttpSourceMetrics.Failed(Name);
            throw new ToolException($"{Name}: {e.Message}");
        }
    }

    /// <summary>One GET with the source's headers and, with OAuth, its token (renewed once when the API refuses it).</summary>
    private async Task<UpstreamResponse> SendAsync(Uri target)
    {
        var token = _token is null ? null : await _token.GetAsync(null, CancellationToken.None);
        var response = await Send(token);
        if (response.Status == 401 && _token is not null)
        {
            response = await Send(await _token.GetAsync(token, CancellationToken.None));
        }

        return response;

        Task<UpstreamResponse> Send(string? bearer) => _upstream.SendAsync(
            () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Get, target);
                foreach (var (name, value) in _settings.Headers)
                {
                    request.Headers.TryAddWithoutValidation(name, value);
                }

                if (bearer is not null)
                {
                    request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
                }

                return request;
            },
            CancellationToken.None);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        _token?.Dispose();
        return ValueTask.CompletedTask;
    }

    private ToolException NotSql() => new($"'{Name}' is an HTTP API, not a database: it has no tables; read it with fetch {{source: \"{Name}\", path}}");
}
