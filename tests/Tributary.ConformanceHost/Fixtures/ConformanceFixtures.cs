using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Tributary.ConformanceHost.Fixtures;

/// <summary>Registers the MCP server with every fixture the conformance suite's server scenarios expect.</summary>
internal static partial class ConformanceFixtures
{
    private static readonly string[] CompletionCandidates = ["paris", "park", "party", "test", "testing", "value"];

    /// <summary>Adds the MCP server: fixture tools, resources, prompts, completion, logging level and resource subscriptions.</summary>
    public static IMcpServerBuilder AddConformanceFixtures(this IServiceCollection services)
    {
        return services
            .AddMcpServer(options => options.ServerInfo = new Implementation { Name = "tributary-conformance-host", Version = "1.0.0" })
            .WithTools([typeof(ConformanceTools)])
            .WithTools([ConformanceTools.JsonSchema202012Tool()])
            .WithResources([typeof(ConformanceResources)])
            .WithPrompts([typeof(ConformancePrompts)])
            .WithCompleteHandler((request, _) => ValueTask.FromResult(Complete(request.Params)))
            .WithSetLoggingLevelHandler((request, _) =>
            {
                var logger = Logger(request);
                LogLevelSet(logger, request.Params?.Level);
                return ValueTask.FromResult(new EmptyResult());
            })
            .WithSubscribeToResourcesHandler(async (request, cancellationToken) =>
            {
                var uri = request.Params?.Uri ?? "";
                if (uri == ConformanceResources.WatchedUri)
                {
                    // The watched resource "changes" once per subscription: each subscriber gets exactly one update, and none after unsubscribing.
                    await request.Server.SendNotificationAsync(
                        NotificationMethods.ResourceUpdatedNotification,
                        new ResourceUpdatedNotificationParams { Uri = uri },
                        cancellationToken: cancellationToken);
                }

                return new EmptyResult();
            })
            .WithUnsubscribeFromResourcesHandler((_, _) => ValueTask.FromResult(new EmptyResult()))
            .WithRequestFilters(filters => filters.AddCallToolFilter(next => (request, cancellationToken) =>
            {
                // One line per fixture call on stderr: the tests read it to prove a scenario really reached its fixture.
                var logger = Logger(request);
                if (request.MatchedPrimitive is McpServerTool tool && logger.IsEnabled(LogLevel.Information))
                {
                    FixtureCalled(logger, tool.ProtocolTool.Name);
                }

                return next(request, cancellationToken);
            }));
    }

    /// <summary>Suggests the candidates that start with what the client typed, for any prompt or template argument.</summary>
    private static CompleteResult Complete(CompleteRequestParams? request)
    {
        var typed = request?.Argument.Value ?? "";
        var values = CompletionCandidates.Where(v => v.StartsWith(typed, StringComparison.OrdinalIgnoreCase)).ToList();
        return new CompleteResult { Completion = new Completion { Values = values, Total = values.Count, HasMore = false } };
    }

    private static ILogger Logger<T>(RequestContext<T> request) =>
        (request.Services?.GetService<ILoggerFactory>() ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance)
            .CreateLogger(typeof(ConformanceFixtures).FullName!);

    [LoggerMessage(EventId = 9001, Level = LogLevel.Information, Message = "Fixture tool {Tool} called")]
    private static partial void FixtureCalled(ILogger logger, string tool);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Information, Message = "Client log level set to {Level}")]
    private static partial void LogLevelSet(ILogger logger, LoggingLevel? level);
}
