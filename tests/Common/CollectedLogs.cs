using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Tributary.Testing;

/// <summary>A logger provider that keeps every message (level, category, text and exception) for tests to read.</summary>
public sealed class CollectedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    /// <summary>Every message so far, as <c>Level category: text</c> followed by the exception, if any.</summary>
    public IReadOnlyList<string> Lines => [.. _lines];

    /// <summary>All messages as one text.</summary>
    public override string ToString() => string.Join(Environment.NewLine, _lines);

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : Environment.NewLine + exception)}");
    }
}
