using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Tributary.Core;
using Tributary.Core.Sources;

namespace Tributary.Server.Mcp;

/// <summary>Completes <c>{source}</c>, <c>{table}</c> and <c>{topic}</c> in Tributary's resource templates.</summary>
public sealed class NameCompletion(SourceRegistry sources, Topics.TopicRegistry topics)
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
        IEnumerable<string> candidates;
        switch (parameters.Argument.Name)
        {
            case "source":
                candidates = sources.All.Select(s => s.Name);
                break;
            case "topic":
                candidates = topics.All.Select(t => t.Name);
                break;
            case "table" when parameters.Context?.Arguments?.TryGetValue("source", out var sourceName) == true:
                try
                {
                    candidates = await sources.Get(sourceName).ListTablesAsync(cancellationToken);
                }
                catch (ToolException)
                {
                    return Empty();
                }

                break;
            case "table":
                // Without a chosen source, offer tables of every source.
                var all = await Task.WhenAll(sources.All.Select(s => s.ListTablesAsync(cancellationToken)));
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
