using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Hosting;

namespace Tributary.Topics.Ingest;

/// <summary>
/// Follows an upstream Server-Sent Events feed into a topic: each SSE event becomes an event (type from <c>event:</c>,
/// default <c>message</c>; data parsed as JSON, else <c>{"message": data}</c>; source <c>feed</c>). After a dropped
/// connection it reconnects with <c>Last-Event-ID</c>, backing off exponentially from 1 s to 30 s with jitter (or the
/// feed's <c>retry:</c>), so an upstream that resumes from the id loses nothing. The id is stored with each event
/// (<see cref="NewEvent.Position"/>), so a restarted Tributary resumes from it as well.
/// </summary>
public sealed class SseFeed(Uri url, string topic, IEventStore store, HttpMessageHandler? handler = null) : BackgroundService
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);

    /// <summary>The id of the last event taken from the feed, sent as <c>Last-Event-ID</c> on reconnects.</summary>
    public string? LastEventId { get; private set; }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var http = new HttpClient(handler ?? new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) }, disposeHandler: handler is null)
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        var positionName = $"feed:{topic}:{url}";
        LastEventId = await store.ReadPositionAsync(positionName, stoppingToken);
        var delay = FirstDelay;
        TimeSpan? retry = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
                if (LastEventId is { } resumeFrom)
                {
                    request.Headers.Add("Last-Event-ID", resumeFrom);
                }

                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stoppingToken);
                response.EnsureSuccessStatusCode();
                await using var stream = await response.Content.ReadAsStreamAsync(stoppingToken);
                using var reader = new StreamReader(stream, Encoding.UTF8);
                await foreach (var received in ReadEventsAsync(reader, stoppingToken))
                {
                    retry = received.Retry ?? retry;
                    var id = received.Id ?? LastEventId;
                    if (received.Data is not null)
                    {
                        var position = id is null ? null : new IngestPosition(positionName, id);
                        await store.AppendAsync(new NewEvent(topic, received.Type, "feed", Severity.Info, Data(received.Data)) { Position = position }, stoppingToken);
                        delay = FirstDelay;
                    }

                    LastEventId = id;
                }
            }
            catch (Exception e) when (e is HttpRequestException or IOException && !stoppingToken.IsCancellationRequested)
            {
                // The feed is down or dropped us: back off, then resume from the last id.
            }

            try
            {
                var wait = retry ?? delay;
                await Task.Delay(wait + TimeSpan.FromMilliseconds(Random.Shared.Next((int)(wait.TotalMilliseconds / 4) + 1)), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(MaxDelay.Ticks, delay.Ticks * 2));
        }
    }

    private static JsonElement Data(string data)
    {
        try
        {
            return JsonElement.Parse(data);
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["message"] = data }, TopicsJsonContext.Default.DictionaryStringString);
        }
    }

    private sealed record Received(string Type, string? Data, string? Id, TimeSpan? Retry);

    /// <summary>Parses the SSE stream: fields until a blank line make one event (the WHATWG event-stream rules, in short).</summary>
    private static async IAsyncEnumerable<Received> ReadEventsAsync(StreamReader reader, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var data = new StringBuilder();
        string? type = null;
        string? id = null;
        TimeSpan? retry = null;
        var hasData = false;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (hasData || id is not null || retry is not null)
                {
                    yield return new Received(type ?? "message", hasData ? data.ToString() : null, id, retry);
                }

                data.Clear();
                (type, id, retry, hasData) = (null, null, null, false);
                continue;
            }

            if (line.StartsWith(':'))
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }

            switch (field)
            {
                case "data":
                    if (hasData)
                    {
                        data.Append('\n');
                    }

                    data.Append(value);
                    hasData = true;
                    break;
                case "event":
                    type = value.Length > 0 ? value : null;
                    break;
                case "id" when !value.Contains('\0', StringComparison.Ordinal):
                    id = value;
                    break;
                case "retry" when int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var milliseconds):
                    retry = TimeSpan.FromMilliseconds(milliseconds);
                    break;
            }
        }
    }
}
