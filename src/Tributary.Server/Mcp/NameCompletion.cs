using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tributary.Core;
using Tributary.Core.Security;
using Tributary.Core.Sources;

namespace Tributary.Server.Mcp;

/// <summary>Completes <c>{source}</c>, <c>{table}</c> and <c>{topic}</c> in Tributary's resource templates, with names the caller may read.</summary>
public sealed class NameCompletion(SourceRegistry sources, Topics.TopicRegistry topics, Auth.AccessPolicy access)
{
    private const int MaxValues = 100;

    /// <summary>Answers a <c>completion/complete</c> request.</summary>
    public async ValueTask<CompleteResult> CompleteAsync(RequestContext<CompleteRequestParams> request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var parameters = request.Params!;
        if (parameters.Ref is not ResourceTemplateReference { Uri: { } uri } || !uri.StartsWith("tributary://", StringComparison.Ordinal))
        {
            return Empty();
        }

        var prefix = parameters.Argument.Value ?? "";
        var grants = access.For(request.User);
        var readable = sources.All.Where(s => grants.Allows(Grants.Source(s.Name, "read"))).ToList();
        IEnumerable<string> candidates;
        switch (parameters.Argument.Name)
        {
            case "source":
                candidates = readable.Select(s => s.Name);
                break;
            case "topic":
                candidates = topics.All.Select(t => t.Name).Where(t => grants.Allows(Grants.Topic(t, "read")));
                break;
            case "table" when parameters.Context?.Arguments?.TryGetValue("source", out var sourceName) == true:
                try
                {
                    candidates = grants.Allows(Grants.Source(sourceName, "read")) ? await sources.Get(sourceName).ListTablesAsync(cancellationToken) : [];
                }
                catch (ToolException)
                {
                    return Empty();
                }

                break;
            case "table":
                // Without a chosen source, offer tables of every source.
                var all = await Task.WhenAll(readable.Select(s => s.ListTablesAsync(cancellationToken)));
                candidates = all.SelectMany(t => t).Distinct(StringComparer.Ordinal);
                break;
            default:
                return Empty();
        }

        var matches = candidates.Where(c => c.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList();
        return new CompleteResult
        {
            Completion = new Completion { Values = matches.Take(MaxValues).ToList(), Total = matches.Count, HasMore = matches.Count > MaxValues },
        };
    }

    private static CompleteResult Empty() => new() { Completion = new Completion { Values = [] } };
}
