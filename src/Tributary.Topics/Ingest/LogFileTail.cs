using System.Text;
using Microsoft.Extensions.Hosting;

namespace Tributary.Topics.Ingest;

/// <summary>
/// Follows a log file into a topic: each complete line becomes an event (type <c>log</c>, source <c>tail</c>, severity
/// parsed by <see cref="LogLine"/>). Starts at the end of the file. Safe across truncation (it starts over from the top)
/// and rotation by rename (it finishes the old file, then reads the new one from its start); the file may be missing
/// for a while. Polls every <see cref="Interval"/>.
/// </summary>
public sealed class LogFileTail(string path, string topic, IEventStore store) : BackgroundService
{
    /// <summary>How often the file is looked at.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    private const int MaxLine = 64 * 1024;
    private readonly TaskCompletionSource _positioned = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the file has been opened and the starting position taken (lines after that are read).</summary>
    internal Task Positioned => _positioned.Task;
    private const int FingerprintBytes = 64;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        FileStream? file = null;
        byte[]? fingerprint = null;
        var pending = new StringBuilder();
        var startAtEnd = true;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (file is null && TryOpen(out file))
                {
                    file.Position = startAtEnd ? file.Length : 0;
                    fingerprint = Fingerprint(file);
                    startAtEnd = false;
                    _positioned.TrySetResult();
                }

                if (file is not null)
                {
                    if (file.Length < file.Position)
                    {
                        // Truncated in place: what is there now is new.
                        file.Position = 0;
                        pending.Clear();
                        fingerprint = Fingerprint(file);
                    }

                    await ReadLinesAsync(file, pending, stoppingToken);
                    if (Replaced(fingerprint))
                    {
                        // Rotated: the old file is read to its end above; the new one is read from its start.
                        await file.DisposeAsync();
                        file = null;
                        pending.Clear();
                    }
                    else
                    {
                        fingerprint ??= Fingerprint(file);
                    }
                }

                await Task.Delay(Interval, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (file is not null)
            {
                await file.DisposeAsync();
            }
        }
    }

    private bool TryOpen([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out FileStream? file)
    {
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return true;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException)
        {
            file = null;
            return false;
        }
    }

    private async Task ReadLinesAsync(FileStream file, StringBuilder pending, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        var decoder = Encoding.UTF8.GetDecoder();
        var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
        int read;
        while ((read = await file.ReadAsync(buffer, cancellationToken)) > 0)
        {
            var count = decoder.GetChars(buffer, 0, read, chars, 0);
            for (var i = 0; i < count; i++)
            {
                if (chars[i] == '\n')
                {
                    var line = pending.ToString().TrimEnd('\r');
                    pending.Clear();
                    if (line.Length > 0)
                    {
                        var (severity, data) = LogLine.Parse(line);
                        await store.AppendAsync(new NewEvent(topic, "log", "tail", severity, data), cancellationToken);
                    }
                }
                else if (pending.Length < MaxLine)
                {
                    pending.Append(chars[i]);
                }
            }
        }
    }

    /// <summary>The first bytes of the file now at the path; a different start than <paramref name="known"/> means another file.</summary>
    private bool Replaced(byte[]? known)
    {
        if (known is null)
        {
            return false;
        }

        if (!TryOpen(out var current))
        {
            // Moved away and not yet recreated: keep the old one until a new file appears.
            return false;
        }

        using (current)
        {
            return current.Length < known.Length || !Fingerprint(current).AsSpan().StartsWith(known);
        }
    }

    private static byte[]? Fingerprint(FileStream file)
    {
        if (file.Length == 0)
        {
            return null;
        }

        var position = file.Position;
        var bytes = new byte[Math.Min(FingerprintBytes, file.Length)];
        file.Position = 0;
        file.ReadExactly(bytes);
        file.Position = position;
        return bytes;
    }
}
