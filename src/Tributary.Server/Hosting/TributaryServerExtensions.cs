using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tributary.Core.Configuration;
using Tributary.Core.Queries;
using Tributary.Core.Sources;
using Tributary.Server.Mcp;
using Tributary.Server.State;
using Tributary.Topics;

namespace Tributary.Server.Hosting;

/// <summary>Registers Tributary's MCP surface (sources, tools, resources, completion) on a service collection.</summary>
public static class TributaryServerExtensions
{
    /// <summary>What the model is told about using this server.</summary>
    public const string Instructions =
        "Tributary gives you live access to the user's data sources. Work in this order: " +
        "1) call list_sources to see the sources; 2) call describe_schema {source} (or {source, table}) to learn tables, columns, keys and constraints; " +
        "3) call query {source, sql, params?} with exactly one SELECT statement, binding values through params (@name with an object; ? in SQLite or $1 in PostgreSQL with an array) rather than writing them into the SQL. " +
        "Results are {columns, rows, row_count, truncated, next_cursor}: rows are arrays in column order. A result holds at most max_rows rows (default 500) and about 1 MiB of JSON; " +
        "when truncated is true, prefer narrowing the query (WHERE, LIMIT, aggregates); to read further, call query with only {cursor: next_cursor}. " +
        "query never writes, and statements that run too long are cancelled: narrow them rather than retrying. " +
        "To run several independent reads at once, send them in one batch_query {items:[{source, sql, params?} or {tool, params?}, ...]} (up to 100); each item gets its own result or error, in order. " +
        "Other tools may be configured for specific tasks: prefer them when they fit. Where list_sources shows writable_tables, update_rows {source, table, key, set, expected_version} changes one row: " +
        "read the row first and pass its version as expected_version; on a conflict, read current_row and decide again; use dry_run to preview and idempotency_key to make retries safe. " +
        "Schemas are also resources: tributary://sources, tributary://sources/{source}/schema and tributary://sources/{source}/tables/{table}. " +
        "Where list_sources shows topics (live event logs), follow one with read_events {topic, after: cursor, wait_ms}: it returns the events after your cursor and the cursor to pass next, " +
        "waiting up to wait_ms for the next event, so a loop of read_events misses nothing; filter by types, min_severity, message (a regular expression) or data fields. " +
        "Clients that handle notifications can subscribe to tributary://topics/{topic} instead, then read_events from their cursor when told of an update.";

    /// <summary>Tributary's name and version as MCP server info.</summary>
    public static Implementation ServerInfo { get; } = new()
    {
        Name = "tributary",
        Title = "Tributary",
        Version = typeof(TributaryServerExtensions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0",
    };

    /// <summary>Adds the MCP server with Tributary's tools, resources and completion over the configured sources.</summary>
    public static IMcpServerBuilder AddTributaryMcpServer(this IServiceCollection services, TributaryConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        services.AddSingleton(config);
        services.AddSingleton(sp => new SourceRegistry(
            config,
            SourceProviders.All,
            sp.GetService<Microsoft.Extensions.Caching.Hybrid.HybridCache>(),
            source => sp.GetRequiredService<Caching.QueryResultCache>().TablesChangedAsync(source, [])));
        services.AddSingleton(new QueryCursorCodec(config.Server.CursorSecret));
        services.AddSingleton<NameCompletion>();
        services.AddSingleton<McpServerTool, ListSourcesTool>();
        services.AddSingleton<McpServerTool, DescribeSchemaTool>();
        services.AddSingleton<McpServerTool, QueryTool>();
        services.AddSingleton<Caching.QueryResultCache>();
        if (Caching.QueryResultCache.IsUsed(config))
        {
            // Memory first; an IDistributedCache (server.redis, or one the host registers) becomes the second level.
            services.AddHybridCache(options => options.MaximumPayloadBytes = Caching.QueryResultCache.MaxPayloadBytes(config));
            if (config.Server.Redis is { } redis)
            {
                AddRedisCache(services, redis);
            }
        }

        if (config.Sources.Any(s => s.Kind == Sources.Http.HttpProvider.KindName))
        {
            services.AddSingleton<McpServerTool, FetchTool>();
        }

        Observability.TributaryTelemetry.AddTributaryTelemetry(services, config);
        services.AddSingleton(sp => new Observability.TributaryMetrics(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), () => sp.GetService<TopicSubscriptions>()?.Active ?? 0));
        services.AddSingleton<BatchQueryMetrics>();
        services.AddSingleton<McpServerTool, BatchQueryTool>();
        services.AddSingleton<McpServerResource, SourcesResource>();
        services.AddSingleton<McpServerResource, SchemaResource>();
        services.AddSingleton<McpServerResource, TableResource>();
        services.AddSingleton<McpServerPrompt, GenerateModelsPrompt>();
        foreach (var tool in config.Tools)
        {
            services.AddSingleton<McpServerTool>(sp => NamedTools.Create(tool, sp.GetRequiredService<SourceRegistry>(), sp.GetRequiredService<QueryCursorCodec>(), sp.GetRequiredService<Caching.QueryResultCache>(), sp.GetService<WriteRunner>()));
        }

        var registry = new TopicRegistry(config.Topics);
        services.AddSingleton(registry);
        if (config.Topics.Count > 0)
        {
            services.AddSingleton<IEventBus, EventBus>();
            services.AddSingleton<IEventStore>(sp => new SqliteEventStore(
                Path.Combine(Path.GetFullPath(config.Server.DataDir, config.BaseDirectory), SqliteEventStore.FileName), sp.GetRequiredService<IEventBus>(), registry.Retention));
            services.AddSingleton<McpServerTool, PublishEventTool>();
            services.AddSingleton<McpServerTool, ReadEventsTool>();
            services.AddSingleton<McpServerResource, TopicResource>();
            services.AddSingleton<TopicSubscriptions>();
            services.AddSingleton<McpServerPrompt, AnalyzeLogsPrompt>();
            if (config.IsDemo)
            {
                services.AddHostedService<Demo.DemoActivity>();
            }

            foreach (var source in config.Sources.Where(s => s.Captures.Count > 0))
            {
                services.AddSingleton<Microsoft.Extensions.Hosting.IHostedService>(sp => Capture.ChangeCaptures.Create(source, config, sp));
            }

            foreach (var topic in config.Topics)
            {
                if (topic.TailPath is { } tail)
                {
                    services.AddSingleton<Microsoft.Extensions.Hosting.IHostedService>(sp => new Topics.Ingest.LogFileTail(tail, topic.Name, sp.GetRequiredService<IEventStore>()));
                }

                if (topic.FeedUrl is { } feed)
                {
                    services.AddSingleton<Microsoft.Extensions.Hosting.IHostedService>(sp => new Topics.Ingest.SseFeed(feed, topic.Name, sp.GetRequiredService<IEventStore>()));
                }
            }
        }

        if (config.Sources.Any(s => s.Writable) || config.Auth.Enabled)
        {
            // Tributary's own state (idempotency keys, audit log, API keys) exists only where writes or authentication do.
            services.AddSingleton(_ => new StateStore(StateStore.PathIn(config), config.Server.IdempotencyRetention));
            services.AddSingleton<McpServerResource, AuditResource>();
        }

        if (config.Sources.Any(s => s.Writable))
        {
            services.AddSingleton<WriteRunner>();
            services.AddSingleton<McpServerTool, UpdateRowsTool>();
        }

        services.AddSingleton<Auth.AccessPolicy>();
        var builder = services
            .AddMcpServer(options =>
            {
                options.ServerInfo = ServerInfo;
                options.ServerInstructions = Instructions;
            })
            .WithCompleteHandler((request, cancellationToken) =>
                request.Services!.GetRequiredService<NameCompletion>().CompleteAsync(request, cancellationToken))
            .WithRequestFilters(ListOnlyWhatTheCallerMayUse);
        if (config.Topics.Count > 0)
        {
            builder
                .WithSubscribeToResourcesHandler((request, cancellationToken) => request.Services!.GetRequiredService<TopicSubscriptions>().SubscribeAsync(request, cancellationToken))
                .WithUnsubscribeFromResourcesHandler((request, cancellationToken) => request.Services!.GetRequiredService<TopicSubscriptions>().UnsubscribeAsync(request, cancellationToken))
                .WithSubscriptionsListenHandler((request, cancellationToken) => request.Services!.GetRequiredService<TopicSubscriptions>().ListenAsync(request, cancellationToken));
        }

        return builder;
    }

    /// <summary>Lists of tools, resources and templates show only what the caller may use (in their usual order).</summary>
    private static void ListOnlyWhatTheCallerMayUse(IMcpRequestFilterBuilder filters)
    {
        filters.AddListToolsFilter(next => async (request, cancellationToken) =>
        {
            var result = await next(request, cancellationToken);
            if (request.Services?.GetService<Auth.AccessPolicy>() is { Enabled: true } policy)
            {
                var grants = policy.For(request.User);
                result.Tools = [.. result.Tools.Where(t => policy.ToolVisible(t.Name, grants))];
            }

            return result;
        });
        filters.AddListResourcesFilter(next => async (request, cancellationToken) =>
        {
            var result = await next(request, cancellationToken);
            if (request.Services?.GetService<Auth.AccessPolicy>() is { Enabled: true } policy)
            {
                var grants = policy.For(request.User);
                result.Resources = [.. result.Resources.Where(r => policy.ResourceVisible(r.Uri, grants))];
            }

            return result;
        });
        filters.AddListResourceTemplatesFilter(next => async (request, cancellationToken) =>
        {
            var result = await next(request, cancellationToken);
            if (request.Services?.GetService<Auth.AccessPolicy>() is { Enabled: true } policy)
            {
                var grants = policy.For(request.User);
                result.ResourceTemplates = [.. result.ResourceTemplates.Where(r => policy.ResourceVisible(r.UriTemplate, grants))];
            }

            return result;
        });
    }

    /// <summary>Redis as the result cache's second level; apart, so a server without Redis never loads its client.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void AddRedisCache(IServiceCollection services, string redis)
    {
        services.AddSingleton(sp => new Caching.RedisConnection(redis, Logger<Caching.RedisConnection>(sp)));
        services.AddSingleton<Microsoft.Extensions.Caching.Distributed.IDistributedCache>(sp =>
        {
            var connection = sp.GetRequiredService<Caching.RedisConnection>();
            var redisCache = new Microsoft.Extensions.Caching.StackExchangeRedis.RedisCache(Microsoft.Extensions.Options.Options.Create(new Microsoft.Extensions.Caching.StackExchangeRedis.RedisCacheOptions
            {
                ConnectionMultiplexerFactory = async () => await connection.Connected,
                InstanceName = "tributary:",
            }));
            return new Caching.SecondLevelCache(redisCache, () => connection.IsAvailable, Logger<Caching.SecondLevelCache>(sp));
        });

        static Microsoft.Extensions.Logging.ILogger Logger<T>(IServiceProvider sp) => sp.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>().CreateLogger(typeof(T).FullName!);
    }
}
