using Tributary.Core;
using Tributary.Core.Configuration;

namespace Tributary.Topics;

/// <summary>The configured topics, by name.</summary>
public sealed class TopicRegistry(IReadOnlyList<TopicConfig> topics)
{
    private readonly Dictionary<string, TopicConfig> _byName = topics.ToDictionary(t => t.Name, StringComparer.Ordinal);

    /// <summary>Every topic, in configuration order.</summary>
    public IReadOnlyList<TopicConfig> All { get; } = topics;

    /// <summary>The topic called <paramref name="name"/>; an unknown name is a <see cref="ToolException"/> that lists the valid ones.</summary>
    public TopicConfig Get(string name) =>
        _byName.TryGetValue(name, out var topic)
            ? topic
            : throw new ToolException($"unknown topic '{name}' (topics: {(All.Count == 0 ? "none configured" : string.Join(", ", All.Select(t => t.Name)))})");

    /// <summary>The retention of <paramref name="name"/> (the default for a topic no longer configured).</summary>
    public TopicRetention Retention(string name) =>
        _byName.TryGetValue(name, out var topic) ? new TopicRetention(topic.MaxEvents, topic.MaxAge) : TopicRetention.Default;
}
