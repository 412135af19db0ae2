using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tributary.ConformanceHost.Fixtures;
using Tributary.Server.Hosting;
using Tributary.Server.Http;

// Tributary's own HTTP pipeline (hybrid session mode, legacy SSE, Origin/Host allowlist, body limit) serving the
// conformance suite's fixtures. Usage: Tributary.ConformanceHost [--port N] [--parent-pid PID]
// Port 0 (the default) picks a free port. Prints "listening on http://127.0.0.1:PORT/mcp" on stdout once listening;
// logs go to stderr. With --parent-pid the host exits when that process is gone, so a crashed test run leaves nothing behind.
var port = IntOption(args, "--port") ?? 0;
var parentPid = IntOption(args, "--parent-pid");

var safety = new HttpSafetyOptions();
var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
TributaryHosts.ConfigureLogging(builder.Logging, LogLevel.Information);
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Limits.MaxRequestBodySize = safety.MaxRequestBytes;
    kestrel.Listen(IPAddress.Loopback, port);
});
builder.Services.AddConformanceFixtures().WithTributaryHttpTransport();

await using var app = builder.Build();
app.MapTributaryHttp(safety);
await app.StartAsync();

var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
Console.Out.WriteLine($"listening on http://127.0.0.1:{new Uri(address).Port}/mcp");
Console.Out.Flush();

if (parentPid is { } pid)
{
    _ = WatchParentAsync(pid, app.Services.GetRequiredService<IHostApplicationLifetime>());
}

await app.WaitForShutdownAsync();
return 0;

static int? IntOption(string[] args, string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length
        ? int.Parse(args[index + 1], NumberStyles.None, CultureInfo.InvariantCulture)
        : null;
}

static async Task WatchParentAsync(int pid, IHostApplicationLifetime lifetime)
{
    using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
    try
    {
        while (await timer.WaitForNextTickAsync(lifetime.ApplicationStopping))
        {
            if (!IsRunning(pid))
            {
                lifetime.StopApplication();
                return;
            }
        }
    }
    catch (OperationCanceledException)
    {
        // The host is stopping anyway.
    }
}

static bool IsRunning(int pid)
{
    try
    {
        using var process = Process.GetProcessById(pid);
        return !process.HasExited;
    }
    catch (ArgumentException)
    {
        return false;
    }
}
