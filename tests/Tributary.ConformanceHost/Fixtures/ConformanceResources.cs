using System.ComponentModel;
using System.Text.Json;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Tributary.ConformanceHost.Fixtures;

/// <summary>The resources and the resource template the conformance suite reads.</summary>
[McpServerResourceType]
internal static class ConformanceResources
{
    public const string WatchedUri = "test://watched-resource";

    [McpServerResource(UriTemplate = "test://static-text", Name = "static-text", MimeType = "text/plain")]
    [Description("A static text resource")]
    public static string StaticText() => "This is the content of the static text resource.";

    [McpServerResource(UriTemplate = "test://static-binary", Name = "static-binary", MimeType = "image/png")]
    [Description("A static binary resource (a 1x1 PNG)")]
    public static BlobResourceContents StaticBinary() => BlobResourceContents.FromBytes(SampleMedia.RedPixelPng, "test://static-binary", "image/png");

    [McpServerResource(UriTemplate = "test://template/{id}/data", Name = "template-data", MimeType = "application/json")]
    [Description("Data for one id, substituted into the URI")]
    public static TextResourceContents TemplateData([Description("The item id")] string id)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("id", id);
            json.WriteBoolean("templateTest", true);
            json.WriteString("data", $"Data for ID: {id}");
            json.WriteEndObject();
        }

        return new TextResourceContents
        {
            Uri = $"test://template/{id}/data",
            MimeType = "application/json",
            Text = System.Text.Encoding.UTF8.GetString(stream.ToArray()),
        };
    }

    [McpServerResource(UriTemplate = WatchedUri, Name = "watched-resource", MimeType = "text/plain")]
    [Description("A resource clients can subscribe to")]
    public static string Watched() => "Watched resource content";
}
