using System.Buffers;
using System.Text;
using System.Text.Json;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Sources.Http;

namespace Tributary.Server.Mcp;

/// <summary>The result of <c>fetch</c> and the named HTTP tools: <c>{source, status, content_type, cache, stale?, degraded?, body}</c>.</summary>
internal static class HttpAnswer
{
    /// <summary>The result's output schema.</summary>
    public const string OutputSchema = """
        {"type":"object","required":["source","status","cache","body"],"properties":{"source":{"type":"string"},"status":{"type":"integer"},"content_type":{"type":["string","null"]},
          "cache":{"type":"string","enum":["hit","miss","stale"]},"stale":{"type":"boolean"},"degraded":{"type":"boolean"},"body":{}}}
        """;

    /// <summary>
    /// Writes the API's answer, its body as JSON when the API answers JSON (the part <paramref name="pointer"/> names,
    /// when given). An answer over <paramref name="limit"/> bytes, an HTTP error or a pointer that names nothing is a
    /// <see cref="ToolException"/>.
    /// </summary>
    public static async ValueTask WriteAsync(string source, long limit, UpstreamResponse response, CacheOutcome cache, JsonPointer? pointer, IBufferWriter<byte> output)
    {
        if (response.Body.LongLength > limit)
        {
            throw new ToolException($"{source} answered {response.Body.LongLength} bytes, over the source's max_result_bytes of {limit}: ask for less (a filter, a page)");
        }

        if (response.Status is < 200 or >= 300)
        {
            var text = Encoding.UTF8.GetString(response.Body.AsSpan(0, Math.Min(response.Body.Length, 500)));
            throw new ToolException($"{source} answered HTTP {response.Status}: {text}");
        }

        JsonElement? body = IsJson(response.ContentType) ? TryParse(response.Body) : null;
        if (pointer is not null)
        {
            if (body is not { } document)
            {
                throw new ToolException($"{source} answered {response.ContentType ?? "without a content type"}, not JSON, so this tool's pointer {pointer} has nothing to select");
            }

            body = pointer.TryFind(document, out var found) ? found : throw new ToolException($"{source}'s answer has nothing at {pointer} (this tool's pointer): the API's answer is not shaped as the tool expects");
        }

        await using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("source"u8, source);
        json.WriteNumber("status"u8, response.Status);
        json.WriteString("content_type"u8, response.ContentType);
        json.WriteString("cache"u8, cache switch { CacheOutcome.Hit => "hit", CacheOutcome.Stale => "stale", _ => "miss" });
        if (cache == CacheOutcome.Stale)
        {
            // The API failed: this is its last good answer, not a current one.
            json.WriteBoolean("stale"u8, true);
            json.WriteBoolean("degraded"u8, true);
        }

        json.WritePropertyName("body"u8);
        if (body is { } parsed)
        {
            parsed.WriteTo(json);
        }
        else
        {
            json.WriteStringValue(Encoding.UTF8.GetString(response.Body));
        }

        json.WriteEndObject();
    }

    private static bool IsJson(string? contentType) =>
        contentType is not null && (contentType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || contentType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    private static JsonElement? TryParse(byte[] body)
    {
        try
        {
            return JsonElement.Parse(body);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
