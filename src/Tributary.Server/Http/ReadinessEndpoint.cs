using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Tributary.Core.Sources;

namespace Tributary.Server.Http;

/// <summary>
/// <c>/readyz</c>: 200 when every source answers (its tables listed within <see cref="Timeout"/>), 503 naming the ones
/// that do not. Open like <c>/healthz</c> (probes carry no credentials), so it says which sources fail but not why: the
/// reason goes to the log.
/// </summary>
internal sealed partial class ReadinessEndpoint(SourceRegistry sources, ILogger<ReadinessEndpoint> logger)
{
    /// <summary>The path.</summary>
    public const string Path = "/readyz";

    /// <summary>How long one source may take to answer.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public async Task HandleAsync(HttpContext context)
    {
        var checks = await Task.WhenAll(sources.All.Select(async source =>
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(Timeout);
            var started = Stopwatch.GetTimestamp();
            try
            {
                await source.ListTablesAsync(timeout.Token);
                return (source.Name, Ok: true);
            }
            catch (Exception e) when (!context.RequestAborted.IsCancellationRequested)
            {
                LogUnready(logger, source.Name, Stopwatch.GetElapsedTime(started).TotalMilliseconds, e.GetType().Name, e.Message);
                return (source.Name, Ok: false);
            }
        }));
        var failing = checks.Where(c => !c.Ok).Select(c => c.Name).ToList();
        context.Response.StatusCode = failing.Count == 0 ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(failing.Count == 0
            ? $"ready: {checks.Length} sources answer"
            : $"not ready: {failing.Count} of {checks.Length} sources do not answer ({string.Join(", ", failing)})");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "/readyz: source {Source} did not answer after {Milliseconds:F0} ms: {Error}: {Message}")]
    private static partial void LogUnready(ILogger logger, string source, double milliseconds, string error, string message);
}
