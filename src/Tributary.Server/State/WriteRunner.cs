using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tributary.Core;

namespace Tributary.Server.State;

/// <summary>One write call as the audit log, the idempotency keys and the result cache see it.</summary>
/// <param name="Tool">The tool called.</param>
/// <param name="Source">The source written.</param>
/// <param name="Table">The table the write changes.</param>
/// <param name="Principal">Who called it.</param>
/// <param name="Arguments">The call's arguments, without idempotency_key and dry_run (fingerprinted to detect a reused key).</param>
/// <param name="IdempotencyKey">The caller's idempotency key, or null.</param>
/// <param name="DryRun">True when nothing may be written.</param>
internal sealed record WriteCall(string Tool, string Source, string Table, string Principal, IDictionary<string, JsonElement> Arguments, string? IdempotencyKey, bool DryRun);

/// <summary>What a write did: the result's body (a JSON object) and its audit entry.</summary>
internal sealed record WriteReport(JsonElement Body, AuditEntry Audit);

/// <summary>
/// Runs writes under their idempotency key and appends each to the audit log: a repeated key returns the first call's
/// result without writing again; a dry run neither claims a key nor leaves an audit entry. A write drops the cached
/// query results that read its table.
/// </summary>
internal sealed class WriteRunner(StateStore state, Caching.QueryResultCache results)
{
    /// <summary>Longest idempotency key accepted.</summary>
    public const int MaxKeyLength = 200;

    /// <summary>Runs <paramref name="write"/> for <paramref name="call"/> and writes the result JSON to <paramref name="output"/>.</summary>
    public async Task RunAsync(WriteCall call, Func<Task<WriteReport>> write, IBufferWriter<byte> output)
    {
        if (call.DryRun)
        {
            Write(output, (await write()).Body, auditId: null, dryRun: true);
            return;
        }

        if (call.IdempotencyKey is not { } key)
        {
            var report = await write();
            await results.TablesChangedAsync(call.Source, [call.Table]);
            Write(output, report.Body, state.Append(report.Audit), dryRun: false);
            return;
        }

        if (key.Length is 0 or > MaxKeyLength)
        {
            throw new ToolException($"'idempotency_key' must have 1 to {MaxKeyLength} characters");
        }

        var scope = $"{call.Principal}\n{call.Tool}";
        var claim = state.Claim(scope, key, Fingerprint(call));
        switch (claim.Outcome)
        {
            case IdempotencyOutcome.Replay:
                output.Write(Encoding.UTF8.GetBytes(claim.Result!));
                return;
            case IdempotencyOutcome.Mismatch:
                throw new ToolException($"idempotency_key '{key}' was already used for a {call.Tool} call with different arguments: use a new key for a different change");
            case IdempotencyOutcome.InProgress:
                throw new ToolException($"a {call.Tool} call with idempotency_key '{key}' is still running (or its outcome was not recorded): wait a moment and retry with the same key");
        }

        WriteReport written;
        try
        {
            written = await write();
        }
        catch
        {
            // Nothing was committed: a retry with this key runs the write again.
            state.Release(scope, key);
            throw;
        }

        await results.TablesChangedAsync(call.Source, [call.Table]);
        var buffer = new ArrayBufferWriter<byte>();
        Write(buffer, written.Body, state.Append(written.Audit with { IdempotencyKey = key }), dryRun: false);
        state.Complete(scope, key, Encoding.UTF8.GetString(buffer.WrittenSpan));
        output.Write(buffer.WrittenSpan);
    }

    /// <summary>A short SHA-256 digest of a JSON value, for the audit log (the value itself is not logged).</summary>
    public static string Digest(JsonElement value) => Digest(value.GetRawText());

    /// <summary>A short SHA-256 digest of text.</summary>
    public static string Digest(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32];

    private static string Fingerprint(WriteCall call)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var (name, value) in call.Arguments.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                json.WritePropertyName(name);
                value.WriteTo(json);
            }

            json.WriteEndObject();
        }

        return Digest(call.Tool + "\n" + Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    private static void Write(IBufferWriter<byte> output, JsonElement body, long? auditId, bool dryRun)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        foreach (var property in body.EnumerateObject())
        {
            property.WriteTo(json);
        }

        json.WriteBoolean("dry_run"u8, dryRun);
        if (auditId is { } id)
        {
            json.WriteNumber("audit_id"u8, id);
        }

        json.WriteEndObject();
    }
}
