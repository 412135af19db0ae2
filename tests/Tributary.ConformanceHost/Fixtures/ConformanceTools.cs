using System.ComponentModel;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Tributary.ConformanceHost.Fixtures;

/// <summary>The tools the conformance suite's server scenarios call by name, each returning what its scenario describes.</summary>
[McpServerToolType]
internal static class ConformanceTools
{
    public const string SimpleText = "This is a simple text response for testing.";
    public const string ErrorText = "This tool intentionally returns an error for testing";

    [McpServerTool(Name = "test_simple_text"), Description("Returns one text content block.")]
    public static string TestSimpleText() => SimpleText;

    [McpServerTool(Name = "test_image_content"), Description("Returns one image content block (a 1x1 PNG).")]
    public static ImageContentBlock TestImageContent() => ImageContentBlock.FromBytes(SampleMedia.RedPixelPng, "image/png");

    [McpServerTool(Name = "test_audio_content"), Description("Returns one audio content block (a tiny WAV).")]
    public static AudioContentBlock TestAudioContent() => AudioContentBlock.FromBytes(SampleMedia.SilentWav, "audio/wav");

    [McpServerTool(Name = "test_embedded_resource"), Description("Returns one embedded text resource.")]
    public static EmbeddedResourceBlock TestEmbeddedResource() => new()
    {
        Resource = new TextResourceContents { Uri = "test://embedded-resource", MimeType = "text/plain", Text = "This is an embedded resource content." },
    };

    [McpServerTool(Name = "test_multiple_content_types"), Description("Returns text, image and embedded resource content.")]
    public static IEnumerable<ContentBlock> TestMultipleContentTypes() =>
    [
        new TextContentBlock { Text = "Multiple content types test:" },
        ImageContentBlock.FromBytes(SampleMedia.RedPixelPng, "image/png"),
        new EmbeddedResourceBlock
        {
            Resource = new TextResourceContents { Uri = "test://mixed-content-resource", MimeType = "application/json", Text = """{"test":"data","value":123}""" },
        },
    ];

    [McpServerTool(Name = "test_tool_with_logging"), Description("Sends three info log notifications, 50 ms apart.")]
    public static async Task<string> TestToolWithLogging(McpServer server, CancellationToken cancellationToken)
    {
        await LogAsync(server, "Tool execution started", cancellationToken);
        await Task.Delay(50, cancellationToken);
        await LogAsync(server, "Tool processing data", cancellationToken);
        await Task.Delay(50, cancellationToken);
        await LogAsync(server, "Tool execution completed", cancellationToken);
        return "Tool with logging executed successfully";
    }

    [McpServerTool(Name = "test_error_handling"), Description("Always fails.")]
    public static string TestErrorHandling() => throw new McpException(ErrorText);

    [McpServerTool(Name = "test_tool_with_progress"), Description("Reports progress 0, 50 and 100 of 100, 50 ms apart.")]
    public static async Task<string> TestToolWithProgress(McpServer server, RequestContext<CallToolRequestParams> context, CancellationToken cancellationToken)
    {
        var token = context.Params?.ProgressToken;
        foreach (var progress in new[] { 0, 50, 100 })
        {
            if (progress > 0)
            {
                await Task.Delay(50, cancellationToken);
            }

            if (token is { } t)
            {
                await server.NotifyProgressAsync(t, new ProgressNotificationValue { Progress = progress, Total = 100 }, cancellationToken: cancellationToken);
            }
        }

        return token is { } done ? $"Progress reported for token {done}" : "Completed without a progress token";
    }

    [McpServerTool(Name = "test_sampling"), Description("Asks the client's LLM to complete a prompt.")]
    public static async Task<string> TestSampling(McpServer server, [Description("The prompt to send to the LLM")] string prompt, CancellationToken cancellationToken)
    {
        var result = await server.SampleAsync(
            new CreateMessageRequestParams
            {
                Messages = [new SamplingMessage { Role = Role.User, Content = [new TextContentBlock { Text = prompt }] }],
                MaxTokens = 100,
            },
            cancellationToken);
        return $"LLM response: {string.Concat(result.Content.OfType<TextContentBlock>().Select(c => c.Text))}";
    }

    [McpServerTool(Name = "test_elicitation"), Description("Asks the user for a username and an email address.")]
    public static async Task<string> TestElicitation(McpServer server, [Description("The message to show the user")] string message, CancellationToken cancellationToken)
    {
        var result = await server.ElicitAsync(
            new ElicitRequestParams
            {
                Message = message,
                RequestedSchema = new ElicitRequestParams.RequestSchema
                {
                    Properties =
                    {
                        ["username"] = new ElicitRequestParams.StringSchema { Description = "User's response" },
                        ["email"] = new ElicitRequestParams.StringSchema { Description = "User's email address" },
                    },
                    Required = ["username", "email"],
                },
            },
            cancellationToken);
        return $"User response: action={result.Action}, content={Describe(result)}";
    }

    [McpServerTool(Name = "test_elicitation_sep1034_defaults"), Description("Elicits one field of each primitive type, each with a default (SEP-1034).")]
    public static async Task<string> TestElicitationSep1034Defaults(McpServer server, CancellationToken cancellationToken)
    {
        var result = await server.ElicitAsync(
            new ElicitRequestParams
            {
                Message = "Please review the defaults",
                RequestedSchema = new ElicitRequestParams.RequestSchema
                {
                    Properties =
                    {
                        ["name"] = new ElicitRequestParams.StringSchema { Description = "User name", Default = "John Doe" },
                        ["age"] = new ElicitRequestParams.NumberSchema { Type = "integer", Description = "User age", Default = 30 },
                        ["score"] = new ElicitRequestParams.NumberSchema { Description = "User score", Default = 95.5 },
                        ["status"] = new ElicitRequestParams.UntitledSingleSelectEnumSchema
                        {
                            Description = "User status",
                            Enum = ["active", "inactive", "pending"],
                            Default = "active",
                        },
                        ["verified"] = new ElicitRequestParams.BooleanSchema { Description = "Verification status", Default = true },
                    },
                },
            },
            cancellationToken);
        return $"Elicitation completed: action={result.Action}, content={Describe(result)}";
    }

    [McpServerTool(Name = "test_elicitation_sep1330_enums"), Description("Elicits all five enum schema variants (SEP-1330).")]
    public static async Task<string> TestElicitationSep1330Enums(McpServer server, CancellationToken cancellationToken)
    {
        var result = await server.ElicitAsync(
            new ElicitRequestParams
            {
                Message = "Please choose",
                RequestedSchema = new ElicitRequestParams.RequestSchema
                {
                    Properties =
                    {
                        ["untitledSingle"] = new ElicitRequestParams.UntitledSingleSelectEnumSchema { Enum = ["option1", "option2", "option3"] },
                        ["titledSingle"] = new ElicitRequestParams.TitledSingleSelectEnumSchema
                        {
                            OneOf = [Option("value1", "First Option"), Option("value2", "Second Option"), Option("value3", "Third Option")],
                        },
#pragma warning disable MCP9001 // The deprecated enumNames form is one of the five variants the scenario checks.
                        ["legacyEnum"] = new ElicitRequestParams.LegacyTitledEnumSchema
                        {
                            Enum = ["opt1", "opt2", "opt3"],
                            EnumNames = ["Option One", "Option Two", "Option Three"],
                        },
#pragma warning restore MCP9001
                        ["untitledMulti"] = new ElicitRequestParams.UntitledMultiSelectEnumSchema
                        {
                            Items = new ElicitRequestParams.UntitledEnumItemsSchema { Enum = ["option1", "option2", "option3"] },
                        },
                        ["titledMulti"] = new ElicitRequestParams.TitledMultiSelectEnumSchema
                        {
                            Items = new ElicitRequestParams.TitledEnumItemsSchema
                            {
                                AnyOf = [Option("value1", "First Choice"), Option("value2", "Second Choice"), Option("value3", "Third Choice")],
                            },
                        },
                    },
                },
            },
            cancellationToken);
        return $"Elicitation completed: action={result.Action}, content={Describe(result)}";
    }

    [McpServerTool(Name = "test_reconnection"), Description("Ends its SSE response early when the transport can resume it, so the client must reconnect for the result.")]
    public static async Task<string> TestReconnection(RequestContext<CallToolRequestParams> context, CancellationToken cancellationToken)
    {
        try
        {
            await context.EnablePollingAsync(TimeSpan.FromMilliseconds(500), cancellationToken);
        }
        catch (InvalidOperationException)
        {
            // Polling needs an event stream store; Tributary's transport configures none, so the result arrives on the open stream.
        }

        return "Reconnection test completed successfully";
    }

    /// <summary>The tool whose input schema uses JSON Schema 2020-12 keywords: <c>$schema</c>, <c>$defs</c>/<c>$anchor</c>/<c>$ref</c> (SEP-1613), <c>allOf</c>/<c>anyOf</c> and <c>if</c>/<c>then</c>/<c>else</c> (SEP-2106).</summary>
    public static McpServerTool JsonSchema202012Tool()
    {
        var tool = McpServerTool.Create(
            () => "JSON Schema 2020-12 tool executed successfully",
            new McpServerToolCreateOptions { Name = "json_schema_2020_12_tool", Description = "Tool with JSON Schema 2020-12 features" });
        tool.ProtocolTool.InputSchema = JsonElement.Parse("""
            {
              "$schema": "https://json-schema.org/draft/2020-12/schema",
              "type": "object",
              "$defs": {
                "address": {
                  "$anchor": "addressDef",
                  "type": "object",
                  "properties": { "street": { "type": "string" }, "city": { "type": "string" } }
                }
              },
              "properties": {
                "name": { "type": "string" },
                "address": { "$ref": "#/$defs/address" },
                "contactMethod": { "type": "string", "enum": ["phone", "email"] },
                "phone": { "type": "string" },
                "email": { "type": "string" }
              },
              "allOf": [{ "anyOf": [{ "required": ["phone"] }, { "required": ["email"] }] }],
              "if": { "properties": { "contactMethod": { "const": "phone" } }, "required": ["contactMethod"] },
              "then": { "required": ["phone"] },
              "else": { "required": ["email"] },
              "additionalProperties": false
            }
            """);
        return tool;
    }

    private static ElicitRequestParams.EnumSchemaOption Option(string value, string title) => new() { Const = value, Title = title };

    private static string Describe(ElicitResult result) =>
        result.Content is null ? "{}" : JsonSerializer.Serialize(result.Content, McpJsonUtilities.DefaultOptions);

    private static Task LogAsync(McpServer server, string message, CancellationToken cancellationToken) =>
        server.LoggingLevel is null or <= LoggingLevel.Info
            ? server.SendNotificationAsync(
                NotificationMethods.LoggingMessageNotification,
                new LoggingMessageNotificationParams { Level = LoggingLevel.Info, Logger = "conformance-fixtures", Data = JsonSerializer.SerializeToElement(message, McpJsonUtilities.DefaultOptions) },
                cancellationToken: cancellationToken)
            : Task.CompletedTask;
}
