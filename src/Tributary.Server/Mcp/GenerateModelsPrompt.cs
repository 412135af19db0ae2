using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tributary.Core;
using Tributary.Core.Generation;
using Tributary.Core.Security;
using Tributary.Core.Sources;

namespace Tributary.Server.Mcp;

/// <summary>
/// <c>generate_models {source, target, tables?}</c>: embeds a source's live schema and Tributary's deterministic draft of
/// the models (what <c>tributary generate</c> writes) and asks for models in Prisma, TypeScript, C# or JSON Schema.
/// </summary>
internal sealed class GenerateModelsPrompt(SourceRegistry sources) : McpServerPrompt
{
    /// <summary>The prompt's name.</summary>
    public const string PromptName = "generate_models";

    /// <inheritdoc />
    public override Prompt ProtocolPrompt { get; } = new()
    {
        Name = PromptName,
        Title = "Generate models from a live schema",
        Description = "Embeds a source's live schema (tables, columns, nullability, defaults, keys) and a generated draft, and asks for data models: Prisma, TypeScript, C# or JSON Schema.",
        Arguments =
        [
            new PromptArgument { Name = "source", Description = "The source, from list_sources", Required = true },
            new PromptArgument { Name = "target", Description = "prisma, typescript, csharp or jsonschema", Required = true },
            new PromptArgument { Name = "tables", Description = "Only these tables, comma-separated (default: all)" },
        ],
    };

    /// <inheritdoc />
    public override IReadOnlyList<object> Metadata => [];

    /// <inheritdoc />
    public override async ValueTask<GetPromptResult> GetAsync(RequestContext<GetPromptRequestParams> request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var arguments = request.Params?.Arguments ?? new Dictionary<string, JsonElement>();
        try
        {
            var name = AnalyzeLogsPrompt.Argument(arguments, "source") ?? throw new ToolException("'source' is required");
            request.Services?.GetService<Auth.AccessPolicy>()?.Demand(request.User, Grants.Source(name, "read"));
            var source = sources.Get(name);
            var target = Enum.TryParse<ModelTarget>(AnalyzeLogsPrompt.Argument(arguments, "target"), ignoreCase: true, out var parsed) && Enum.IsDefined(parsed)
                ? parsed
                : throw new ToolException("'target' must be prisma, typescript, csharp or jsonschema");
            var tables = AnalyzeLogsPrompt.Argument(arguments, "tables")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
            using var output = new PooledBufferWriter();
            await DescribeSchemaTool.WriteAsync(source, null, output, cancellationToken);
            var schema = JsonElement.Parse(output.WrittenSpan);
            var draft = ModelGenerator.Generate(schema, target, source.Name, source.Kind, tables);
            var text = new StringBuilder()
                .Append($"Write {target} data models for the tables of the {source.Kind} source '{source.Name}'{(tables.Length > 0 ? $" ({string.Join(", ", tables)})" : "")}. ")
                .Append("Keep every column's nullability and default, make foreign keys relations on both sides, and say which choices you made (names, types that have no exact match). ")
                .Append("Tributary generated the draft below deterministically from the live schema; improve it rather than starting over.\n\n")
                .Append("Live schema (describe_schema):\n").Append(schema.GetRawText())
                .Append("\n\nDraft (").Append(ModelGenerator.FileName(target)).Append("):\n").Append(draft)
                .ToString();
            return new GetPromptResult
            {
                Description = $"{target} models of '{source.Name}'",
                Messages = [new PromptMessage { Role = Role.User, Content = new TextContentBlock { Text = text } }],
            };
        }
        catch (ToolException e)
        {
            throw new McpProtocolException(e.Message, McpErrorCode.InvalidParams);
        }
    }
}
