using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Tributary.Client;

/// <summary>
/// MCP over a child process's stdin and stdout, one JSON-RPC message per line, with a bound on the line length: a line
/// over <see cref="MaxLineBytes"/> (or text that is not JSON-RPC) ends the session with an error instead of being read
/// whole into memory. The child's stderr is drained and its last lines kept for error messages.
/// </summary>
internal sealed class BoundedStdioClientTransport(string command, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string?> environment) : IClientTransport
{
    /// <summary>The longest line accepted: 16 MiB.</summary>
    public const int MaxLineBytes = 16 * 1024 * 1024;

    /// <inheritdoc />
    public string Name => $"stdio {command}";

    /// <inheritdoc />
    public Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo(command)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        var process = Process.Start(start) ?? throw new IOException($"'{command}' could not be started");
        return Task.FromResult<ITransport>(new ChildTransport(process, Name));
    }

    private sealed class ChildTransport : TransportBase
    {
        private static readonly JsonTypeInfo<JsonRpcMessage> MessageType = (JsonTypeInfo<JsonRpcMessage>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage));

        private readonly Process _process;
        private readonly SemaphoreSlim _writing = new(1, 1);
        private readonly CancellationTokenSource _stop = new();
        private readonly Queue<string> _stderr = new();
        private readonly Task _reading;

        public ChildTransport(Process process, string name)
            : base(name, null)
        {
            _process = process;
            _process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is { } line)
                {
                    lock (_stderr)
                    {
                        _stderr.Enqueue(line.Length > 500 ? line[..500] : line);
                        if (_stderr.Count > 5)
                        {
                            _stderr.Dequeue();
                        }
                    }
                }
            };
            _process.BeginErrorReadLine();
            SetConnected();
            _reading = Task.Run(ReadLoopAsync);
        }

        public override async Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default)
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(message, MessageType);
            await _writing.WaitAsync(cancellationToken);
            try
            {
                var stdin = _process.StandardInput.BaseStream;
                await stdin.WriteAsync(bytes, cancellationToken);
                await stdin.WriteAsync("\n"u8.ToArray(), cancellationToken);
                await stdin.FlushAsync(cancellationToken);
            }
            finally
            {
                _writing.Release();
            }
        }

        public override async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try
            {
                _process.StandardInput.Close();
                using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _process.WaitForExitAsync(exited.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
            {
                KillQuietly();
            }

            await _reading;
            _process.Dispose();
            _writing.Dispose();
            _stop.Dispose();
        }

        private async Task ReadLoopAsync()
        {
            Exception? error = null;
            var reader = PipeReader.Create(_process.StandardOutput.BaseStream);
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    var result = await reader.ReadAsync(_stop.Token);
                    var buffer = result.Buffer;
                    while (buffer.PositionOf((byte)'\n') is { } end)
                    {
                        var line = buffer.Slice(0, end);
                        buffer = buffer.Slice(buffer.GetPosition(1, end));
                        if (line.Length > 0)
                        {
                            await ReceiveAsync(line);
                        }
                    }

                    if (buffer.Length > MaxLineBytes)
                    {
                        throw new InvalidDataException($"'{Name}' wrote a line of more than {MaxLineBytes} bytes: it is not an MCP server (or not a sane one)");
                    }

                    reader.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted)
                    {
                        error = new IOException($"'{Name}' closed its output{Exited()}");
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
            catch (Exception e) when (e is InvalidDataException or IOException or JsonException)
            {
                error = e;
                KillQuietly();
            }
            finally
            {
                await reader.CompleteAsync();
                SetDisconnected(error);
            }
        }

        private async Task ReceiveAsync(ReadOnlySequence<byte> line)
        {
            JsonRpcMessage? message;
            try
            {
                var reader = new Utf8JsonReader(line);
                message = JsonSerializer.Deserialize(ref reader, MessageType);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"'{Name}' wrote something that is not JSON-RPC on stdout: {e.Message}", e);
            }

            if (message is not null)
            {
                await WriteMessageAsync(message, _stop.Token);
            }
        }

        private string Exited()
        {
            lock (_stderr)
            {
                return _stderr.Count == 0 ? "" : $"; its last error output: {string.Join(" | ", _stderr)}";
            }
        }

        private void KillQuietly()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Gone already.
            }
        }
    }
}
