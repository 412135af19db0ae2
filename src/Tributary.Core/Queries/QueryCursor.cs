using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tributary.Core.Queries;

/// <summary>What a cursor carries: the query it continues and where.</summary>
/// <param name="Source">The source the query ran against.</param>
/// <param name="Sql">The statement.</param>
/// <param name="Parameters">The parameters as the caller sent them (JSON), or null.</param>
/// <param name="Offset">Rows already returned.</param>
/// <param name="MaxRows">Rows per page.</param>
public sealed record CursorState(
    [property: JsonPropertyName("s")] string Source,
    [property: JsonPropertyName("q")] string Sql,
    [property: JsonPropertyName("p")] JsonElement? Parameters,
    [property: JsonPropertyName("o")] int Offset,
    [property: JsonPropertyName("m")] int MaxRows);

/// <summary>Makes query cursors opaque and tamper-evident: base64url of the state followed by an HMAC-SHA256 tag.</summary>
public sealed class QueryCursorCodec
{
    private const int TagLength = 16;
    private readonly byte[] _key;

    /// <summary>Creates a codec with <paramref name="secret"/>, or a random key when null.</summary>
    public QueryCursorCodec(string? secret)
    {
        _key = secret is null ? RandomNumberGenerator.GetBytes(32) : SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret));
        KeyId = Convert.ToHexStringLower(SHA256.HashData(_key).AsSpan(0, 8));
    }

    /// <summary>Names the signing key without revealing it: results that carry cursors are cached under it, so a server never serves another's cursors.</summary>
    public string KeyId { get; }

    /// <summary>Encodes and signs <paramref name="state"/>.</summary>
    public string Encode(CursorState state)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(state, CoreJsonContext.Default.CursorState);
        var token = new byte[payload.Length + TagLength];
        payload.CopyTo(token, 0);
        HMACSHA256.HashData(_key, payload).AsSpan(0, TagLength).CopyTo(token.AsSpan(payload.Length));
        return Base64Url.EncodeToString(token);
    }

    /// <summary>Checks the signature and decodes; a forged, truncated or foreign cursor is a <see cref="ToolException"/>.</summary>
    public CursorState Decode(string cursor)
    {
        const string Invalid = "the cursor is not valid (it was changed, cut short, or issued by another server or run): run the query again without 'cursor'";
        byte[] token;
        try
        {
            token = Base64Url.DecodeFromChars(cursor);
        }
        catch (FormatException e)
        {
            throw new ToolException(Invalid, e);
        }

        if (token.Length <= TagLength)
        {
            throw new ToolException(Invalid);
        }

        var payload = token.AsSpan(0, token.Length - TagLength);
        var expected = HMACSHA256.HashData(_key, payload).AsSpan(0, TagLength);
        if (!CryptographicOperations.FixedTimeEquals(expected, token.AsSpan(token.Length - TagLength)))
        {
            throw new ToolException(Invalid);
        }

        try
        {
            return JsonSerializer.Deserialize(payload, CoreJsonContext.Default.CursorState) ?? throw new ToolException(Invalid);
        }
        catch (JsonException e)
        {
            throw new ToolException(Invalid, e);
        }
    }
}
