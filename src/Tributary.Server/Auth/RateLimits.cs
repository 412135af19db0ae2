using System.Threading.RateLimiting;
using Tributary.Core.Configuration;

namespace Tributary.Server.Auth;

/// <summary>
/// Token buckets: one per principal (<c>auth.rate_limit.per_minute</c>, with <c>burst</c> at once, overridden per
/// principal name), and one per client address for requests without a valid principal.
/// </summary>
public sealed class RateLimits(RateLimitConfig config) : IDisposable
{
    private readonly PartitionedRateLimiter<string> _principals = PartitionedRateLimiter.Create<string, string>(name => RateLimitPartition.GetTokenBucketLimiter(name, n => Bucket(PerMinute(config, n), config.Burst)));
    private readonly PartitionedRateLimiter<string> _addresses = PartitionedRateLimiter.Create<string, string>(address => RateLimitPartition.GetTokenBucketLimiter(address, _ => Bucket(config.UnauthenticatedPerMinute, config.UnauthenticatedPerMinute)));

    /// <summary>Takes one request from <paramref name="principal"/>'s bucket; null when allowed, else how long to wait.</summary>
    public TimeSpan? TakePrincipal(string principal) => Take(_principals, principal);

    /// <summary>Takes one request from <paramref name="address"/>'s bucket of requests without a principal.</summary>
    public TimeSpan? TakeAddress(string address) => Take(_addresses, address);

    /// <inheritdoc />
    public void Dispose()
    {
        _principals.Dispose();
        _addresses.Dispose();
    }

    private static TimeSpan? Take(PartitionedRateLimiter<string> limiter, string key)
    {
        using var lease = limiter.AttemptAcquire(key);
        if (lease.IsAcquired)
        {
            return null;
        }

        return lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
    }

    /// <summary>The per-minute rate of a principal: its override (by full name, or by the name after <c>key:</c>/<c>cert:</c>), else the default.</summary>
    private static int PerMinute(RateLimitConfig config, string principal) =>
        config.Principals.TryGetValue(principal, out var rate) || config.Principals.TryGetValue(principal[(principal.IndexOf(':', StringComparison.Ordinal) + 1)..], out rate) ? rate : config.PerMinute;

    private static TokenBucketRateLimiterOptions Bucket(int perMinute, int burst) => new()
    {
        TokenLimit = Math.Max(1, Math.Min(burst, perMinute)),
        TokensPerPeriod = Math.Max(1, perMinute / 60),
        ReplenishmentPeriod = perMinute >= 60 ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(60.0 / perMinute),
        QueueLimit = 0,
        AutoReplenishment = true,
    };
}
