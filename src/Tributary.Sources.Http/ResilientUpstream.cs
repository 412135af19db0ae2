using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace Tributary.Sources.Http;

/// <summary>How hard one source tries: retries of transient failures, and when to stop calling an upstream that keeps failing.</summary>
public sealed record ResilienceOptions
{
    /// <summary>Retries after the first try (timeouts, refused or dropped connections, HTTP 5xx and 429).</summary>
    public int Retries { get; init; } = 2;

    /// <summary>The wait before the first retry, doubled each time, with jitter.</summary>
    public TimeSpan FirstDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest <c>Retry-After</c> honoured; an upstream that asks for more is not retried.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest a call may take with all its tries.</summary>
    public TimeSpan Budget { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Failed calls (at least 5, and half of those in <see cref="SamplingDuration"/>) that open the circuit.</summary>
    public int MinimumThroughput { get; init; } = 5;

    /// <summary>The window the failure ratio is measured over.</summary>
    public TimeSpan SamplingDuration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long calls are refused once the circuit is open, before one is let through to test the upstream.</summary>
    public TimeSpan BreakDuration { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// An upstream called with retries (exponential backoff with jitter; HTTP 429 and 503 honour <c>Retry-After</c>), a
/// circuit breaker (after repeated failures calls are refused at once for a while, so a dead upstream costs nothing),
/// and a total time budget. Refusals by the guard are never retried, and neither is a POST or a PATCH: only the
/// idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) may reach the API twice.
/// </summary>
public sealed class ResilientUpstream(UpstreamClient client, string name, ResilienceOptions options)
{
    // Set by each try from the request it actually sends, so no caller can have a POST retried.
    private static readonly ResiliencePropertyKey<bool> Idempotent = new("tributary.idempotent");

    private readonly ResiliencePipeline<UpstreamResponse> _pipeline = Build(name, options);

    /// <summary>Sends a fresh request from <paramref name="request"/> for each try; see <see cref="UpstreamClient.SendAsync(HttpRequestMessage, CancellationToken)"/>.</summary>
    public Task<UpstreamResponse> SendAsync(Func<HttpRequestMessage> request, CancellationToken cancellationToken) => SendAsync(request, null, cancellationToken);

    /// <summary>Sends a fresh request from <paramref name="request"/> for each try, each redirected request handed to <paramref name="redirected"/>; see <see cref="UpstreamClient.SendAsync(HttpRequestMessage, Action{HttpRequestMessage}, CancellationToken)"/>.</summary>
    public async Task<UpstreamResponse> SendAsync(Func<HttpRequestMessage> request, Action<HttpRequestMessage>? redirected, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            return await _pipeline.ExecuteAsync(
                async (context, state) =>
                {
                    using var message = state.request();
                    context.Properties.Set(Idempotent, message.Method.Method is "GET" or "HEAD" or "OPTIONS" or "PUT" or "DELETE");
                    return await state.client.SendAsync(message, state.redirected, context.CancellationToken);
                },
                context,
                (request, redirected, client));
        }
        catch (BrokenCircuitException e)
        {
            HttpSourceMetrics.CircuitRefused(name);
            throw new UpstreamException($"calls to {name} are paused after repeated failures; the next try is let through within {options.BreakDuration.TotalSeconds:0} s", transient: true, e);
        }
        catch (TimeoutRejectedException e)
        {
            throw new UpstreamException($"{name} did not answer within {options.Budget.TotalSeconds:0} s, retries included", transient: true, e);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private static ResiliencePipeline<UpstreamResponse> Build(string name, ResilienceOptions options)
    {
        var builder = new ResiliencePipelineBuilder<UpstreamResponse>().AddTimeout(options.Budget);
        if (options.Retries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<UpstreamResponse>
            {
                ShouldHandle = args => new ValueTask<bool>(args.Context.Properties.GetValue(Idempotent, false) && Transient(args.Outcome, options)),
                MaxRetryAttempts = options.Retries,
                Delay = options.FirstDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                MaxDelay = options.MaxRetryAfter,
                DelayGenerator = args => new ValueTask<TimeSpan?>(args.Outcome.Result?.RetryAfter is { } after && after > TimeSpan.Zero ? after : null),
            });
        }

        return builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions<UpstreamResponse>
        {
            ShouldHandle = args => new ValueTask<bool>(Transient(args.Outcome, options)),
            FailureRatio = 0.5,
            MinimumThroughput = options.MinimumThroughput,
            SamplingDuration = options.SamplingDuration,
            BreakDuration = options.BreakDuration,
            OnOpened = _ => { HttpSourceMetrics.Circuit(name, open: true); return default; },
            OnClosed = _ => { HttpSourceMetrics.Circuit(name, open: false); return default; },
        }).Build();
    }

    private static bool Transient(Outcome<UpstreamResponse> outcome, ResilienceOptions options) => outcome switch
    {
        { Exception: UpstreamException { Transient: true } } => true,
        { Result: { Status: 429 or 503, RetryAfter: { } after } } => after <= options.MaxRetryAfter,
        { Result.Status: 429 or >= 500 } => true,
        _ => false,
    };
}
