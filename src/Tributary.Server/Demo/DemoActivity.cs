using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tributary.Topics;

namespace Tributary.Server.Demo;

/// <summary>
/// The demo's gentle activity: about one order event a second on <c>orders</c> (created, paid, shipped, cancelled) and
/// the matching log lines on <c>logs</c>, at info, warning and error, so both topics are live out of the box. Events only:
/// the demo database is left as it is.
/// </summary>
internal sealed partial class DemoActivity(IEventStore store, ILogger<DemoActivity> logger) : BackgroundService
{
    private static readonly string[] Services = ["orders-api", "payments-api", "notifications", "inventory"];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var random = new Random();
        var nextOrder = 60_001;
        var open = new List<int>();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(700 + random.Next(600)), stoppingToken);
                var roll = random.Next(100);
                if (roll < 45 || open.Count == 0)
                {
                    var id = nextOrder++;
                    open.Add(id);
                    var total = 500 + random.Next(50_000);
                    await PublishAsync("orders", "order.created", Severity.Info, $$"""{"order_id":{{id}},"customer_id":{{1 + random.Next(5000)}},"total_cents":{{total}},"message":"order {{id}} created"}""", stoppingToken);
                    await PublishAsync("logs", "log", Severity.Info, $$"""{"service":"orders-api","message":"order {{id}} created ({{total}} cents)"}""", stoppingToken);
                }
                else
                {
                    var id = open[random.Next(open.Count)];
                    var (type, severity, service, message) = roll switch
                    {
                        < 70 => ("order.paid", Severity.Info, "payments-api", $"payment authorized for order {id}"),
                        < 85 => ("order.shipped", Severity.Info, "inventory", $"order {id} shipped"),
                        < 92 => ("order.payment_retry", Severity.Warning, "payments-api", $"payment declined for order {id}: retrying"),
                        < 97 => ("order.cancelled", Severity.Info, "orders-api", $"order {id} cancelled by customer"),
                        _ => ("order.payment_failed", Severity.Error, "payments-api", $"payment gateway timeout for order {id} after 3 attempts"),
                    };
                    if (type is "order.shipped" or "order.cancelled")
                    {
                        open.Remove(id);
                    }

                    await PublishAsync("orders", type, severity, $$"""{"order_id":{{id}},"message":"{{message}}"}""", stoppingToken);
                    await PublishAsync("logs", "log", severity, $$"""{"service":"{{service}}","message":"{{message}}"}""", stoppingToken);
                }

                if (random.Next(20) == 0)
                {
                    await PublishAsync("logs", "log", Severity.Debug, $$"""{"service":"{{Services[random.Next(Services.Length)]}}","message":"cache refreshed"}""", stoppingToken);
                }

                if (open.Count > 200)
                {
                    open.RemoveRange(0, 100);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (IOException e)
        {
            LogStopped(logger, e);
        }
    }

    private async Task PublishAsync(string topic, string type, Severity severity, string json, CancellationToken cancellationToken) =>
        await store.AppendAsync(new NewEvent(topic, type, "demo", severity, System.Text.Json.JsonElement.Parse(json)), cancellationToken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The demo activity stopped: the event store failed")]
    private static partial void LogStopped(ILogger logger, Exception error);
}
