using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace IocEdge.Aggregator.Tests;

/// <summary>Keeps every log line the aggregator writes, so a test can assert what a technician would read.</summary>
public sealed class LogSink : ILoggerProvider
{
    private readonly ConcurrentQueue<(int EventId, LogLevel Level, string Message)> _lines = new();

    public IReadOnlyList<(int EventId, LogLevel Level, string Message)> Lines => [.. _lines];

    public IReadOnlyList<string> Messages(int eventId) => _lines.Where(l => l.EventId == eventId).Select(l => l.Message).ToList();

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(LogSink sink) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            sink._lines.Enqueue((eventId.Id, logLevel, formatter(state, exception)));
    }
}
