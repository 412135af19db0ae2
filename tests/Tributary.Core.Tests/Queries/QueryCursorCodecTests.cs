using System.Buffers.Text;
using System.Text.Json;
using Tributary.Core.Queries;

namespace Tributary.Core.Tests.Queries;

public sealed class QueryCursorCodecTests
{
    private static readonly CursorState State = new("shop", "SELECT * FROM orders WHERE id > @id", JsonDocument.Parse("""{"id":5}""").RootElement, 500, 500);

    [Fact]
    public void Round_trips_the_query_and_its_position()
    {
        var codec = new QueryCursorCodec(null);
        var decoded = codec.Decode(codec.Encode(State));

        Assert.Equal((State.Source, State.Sql, State.Offset, State.MaxRows), (decoded.Source, decoded.Sql, decoded.Offset, decoded.MaxRows));
        Assert.Equal(5, decoded.Parameters!.Value.GetProperty("id").GetInt32());
    }

    [Fact]
    public void Codecs_with_the_same_secret_accept_each_others_cursors() =>
        Assert.Equal(500, new QueryCursorCodec("s3cret").Decode(new QueryCursorCodec("s3cret").Encode(State)).Offset);

    [Fact]
    public void Forged_truncated_and_foreign_cursors_are_tool_errors()
    {
        var codec = new QueryCursorCodec(null);
        var cursor = codec.Encode(State);
        var bytes = Base64Url.DecodeFromChars(cursor);
        var forgedJson = System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(bytes).Replace("\"o\":500", "\"o\":900", StringComparison.Ordinal));

        Assert.Throws<ToolException>(() => codec.Decode(Base64Url.EncodeToString(forgedJson)));
        Assert.Throws<ToolException>(() => codec.Decode(cursor[..^4]));
        Assert.Throws<ToolException>(() => codec.Decode(cursor[..10]));
        Assert.Throws<ToolException>(() => codec.Decode("not a cursor!"));
        Assert.Throws<ToolException>(() => codec.Decode(""));
        Assert.Throws<ToolException>(() => new QueryCursorCodec(null).Decode(cursor));
    }
}
