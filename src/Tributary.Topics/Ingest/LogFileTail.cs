using Microsoft.Extensions.Hosting;

namespace Tributary.Topics.Ingest;

/// <summary>
/// Follows a log file into a topic: each complete line becomes an event (type <c>log</c>, source <c>tail</c>, severity
/// parsed by <see cref="LogLine"/>). The first time, it starts at the end of the file; each event stores the offset after
/// its line (<see cref="NewEvent.Position"/>), so after a restart it goes on from there and the lines written meanwhile
/// are read once. Safe across truncation (it starts over from the top) and rotation by rename (it finishes the old
/// file, then reads the new one from its start); the file may be missing for a while. Polls every <see cref="Interval"/>.
/// </summary>
public sealed class LogFileTail(string path, string topic, IEventStore store) : BackgroundService
{
    /// <summary>How often the file is looked at.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    private const int MaxLine = 64 * 1024;
    private const int FingerprintBytes = 64;
    private readonly TaskCompletionSource _positioned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _positionName = $"tail:{topic}:{Path.GetFullPath(path)}";

    /// <summary>Completes once the file has been opened and the starting position taken (lines after that are read).</summary>
    internal Task Positioned => _positioned.Task;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        FileStream? file = null;
        byte[]? fingerprint = null;
        var pending = new MemoryStream();
        var saved = await store.ReadPositionAsync(_positionName, stoppingToken);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (file is null && TryOpen(out file))
                {
                    fingerprint = Fingerprint(file);
                    file.Position = Start(file, fingerprint, saved);
                    saved = "";
                    _positioned.TrySetResult();
                }

                if (file is not null)
                {
                    if (file.Length < file.Position)
                    {
                        // Truncated in place: what is there now is new.
                        file.Position = 0;
                        pending.SetLength(0);
                        fingerprint = Fingerprint(file);
                    }

                    fingerprint ??= Fingerprint(file);
                    await ReadLinesAsync(file, fingerprint, pending, stoppingToken);
                    if (Replaced(fingerprint))
                    {
                        // Rotated: the old file is read to its end above; the new one is read from its start.
                        await file.DisposeAsync();
                        file = null;
                        fingerprint = null;
                        pending.SetLength(0);
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

    /// <summary>
    /// Where to start in a newly opened file: with no saved position (the first run), at its end; after a restart, at the
    /// saved offset when it is still the same file, else at its start (it was rotated or truncated meanwhile, so all of it
    /// is new); after a rotation seen while running (<paramref name="saved"/> empty), at its start.
    /// </summary>
    private static long Start(FileStream file, byte[]? fingerprint, string? saved)
    {
        if (saved is null)
        {
            return file.Length;
        }

        var parts = saved.Split(':', 2);
        return parts.Length == 2
            && long.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var offset)
            && offset <= file.Length
            && parts[1].Length > 0
            && Convert.ToHexString(fingerprint ?? []).StartsWith(parts[1], StringComparison.Ordinal)
                ? offset
                : 0;
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

    private async Task ReadLinesAsync(FileStream file, byte[]? fingerprint, MemoryStream pending, CancellationToken cancellationToken)
    {
        // Lines are cut on the byte '\n' (never part of a multi-byte UTF-8 character), so each line's end offset is known.
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await file.ReadAsync(buffer, cancellationToken)) > 0)
        {
            var start = file.Position - read;
            for (var i = 0; i < read; i++)
            {
                if (buffer[i] == (byte)'\n')
                {
                    var line = System.Text.Encoding.UTF8.GetString(pending.GetBuffer(), 0, (int)pending.Length).TrimEnd('\r');
                    pending.SetLength(0);
                    if (line.Length > 0)
                    {
                        var (severity, data) = LogLine.Parse(line);
                        var position = new IngestPosition(_positionName, $"{start + i + 1}:{Convert.ToHexString(fingerprint ?? [])}");
                        await store.AppendAsync(new NewEvent(topic, "log", "tail", severity, data) { Position = position }, cancellationToken);
                    }
                }
                else if (pending.Length < MaxLine)
                {
                    pending.WriteByte(buffer[i]);
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
