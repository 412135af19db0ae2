using System.Diagnostics;
using OpenTelemetry.Trace;

namespace Tributary.Server.Observability;

/// <summary>
/// Samples like the default (a span's parent decides; a root span is recorded) but records no span for a notification
/// the server sends. At 1,000 listeners and 20 events a second that would be 20,000 spans a second, each also stamping a
/// <c>traceparent</c> into the notification; <c>tributary_notifications_sent_total</c> counts them instead.
/// </summary>
internal sealed class NotificationSampler : Sampler
{
    private readonly ParentBasedSampler _default = new(new AlwaysOnSampler());

    /// <inheritdoc />
    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) =>
        samplingParameters.Kind == ActivityKind.Client && samplingParameters.Name.StartsWith("notifications/", StringComparison.Ordinal)
            ? new SamplingResult(SamplingDecision.Drop)
            : _default.ShouldSample(samplingParameters);
}
