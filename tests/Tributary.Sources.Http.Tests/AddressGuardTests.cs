using System.Net;
using Tributary.Sources.Http;

namespace Tributary.Sources.Http.Tests;

public sealed class AddressGuardTests
{
    [Theory]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("127.8.9.10", "loopback")]
    [InlineData("10.1.2.3", "private")]
    [InlineData("172.16.0.1", "private")]
    [InlineData("192.168.1.1", "private")]
    [InlineData("100.64.0.1", "shared")]
    [InlineData("169.254.169.254", "metadata")]
    [InlineData("0.0.0.0", "this network")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("255.255.255.255", "reserved")]
    [InlineData("::1", "loopback")]
    [InlineData("::", "unspecified")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("fc00::1", "private")]
    [InlineData("fd00:ec2::254", "private")]
    [InlineData("::ffff:127.0.0.1", "loopback")]
    [InlineData("::ffff:169.254.169.254", "metadata")]
    [InlineData("::127.0.0.1", "loopback")]
    [InlineData("64:ff9b::7f00:1", "loopback")]
    [InlineData("2002:a9fe:a9fe::", "metadata")]
    [InlineData("ff02::1", "multicast")]
    public void Private_and_reserved_addresses_in_every_form_are_blocked(string address, string kind)
    {
        var why = AddressGuard.WhyBlocked(IPAddress.Parse(address), []);
        Assert.NotNull(why);
        Assert.Contains(kind, why, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("93.184.216.34")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("::ffff:8.8.8.8")]
    public void Public_addresses_are_allowed(string address) => Assert.Null(AddressGuard.WhyBlocked(IPAddress.Parse(address), []));

    [Fact]
    public void A_range_the_source_allows_is_reachable_and_nothing_else()
    {
        IPNetwork[] allowed = [IPNetwork.Parse("10.1.0.0/16")];
        Assert.Null(AddressGuard.WhyBlocked(IPAddress.Parse("10.1.2.3"), allowed));
        Assert.Null(AddressGuard.WhyBlocked(IPAddress.Parse("::ffff:10.1.2.3"), allowed));
        Assert.NotNull(AddressGuard.WhyBlocked(IPAddress.Parse("10.2.0.1"), allowed));
        Assert.NotNull(AddressGuard.WhyBlocked(IPAddress.Parse("169.254.169.254"), allowed));
    }
}
