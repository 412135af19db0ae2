using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace Tributary.Testing;

/// <summary>
/// Records the measurements of one in-process Tributary server's instruments (those made through its own
/// <see cref="IMeterFactory"/>, so servers of other tests running at the same time are not counted).
/// </summary>
public sealed class ServerMeters : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Instrument, string? Tag), long> _sums = [];
    private readonly Dictionary<(string Instrument, string? Tag), long> _highs = [];

    /// <summary>Starts listening to the instruments of <paramref name="services"/>' meter factory.</summary>
    public ServerMeters(IServiceProvider services)
    {
        var factory = services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var keys = new List<(string, string?)> { (instrument.Name, null) };
            foreach (var tag in tags)
            {
                keys.Add((instrument.Name, $"{tag.Key}={tag.Value}"));
            }

            lock (_lock)
            {
                foreach (var key in keys)
                {
                    var sum = _sums[key] = _sums.GetValueOrDefault(key) + value;
                    _highs[key] = Math.Max(_highs.GetValueOrDefault(key), sum);
                }
            }
        });
        _listener.Start();
    }

    /// <summary>The sum of the measurements of <paramref name="instrument"/> (only those tagged <paramref name="tag"/>, written <c>key=value</c>, when given).</summary>
    public long Sum(string instrument, string? tag = null)
    {
        lock (_lock)
        {
            return _sums.GetValueOrDefault((instrument, tag));
        }
    }

    /// <summary>The highest running sum <paramref name="instrument"/> reached (for an up-down counter: its peak).</summary>
    public long Peak(string instrument, string? tag = null)
    {
        lock (_lock)
        {
            return _highs.GetValueOrDefault((instrument, tag));
        }
    }

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();
}
