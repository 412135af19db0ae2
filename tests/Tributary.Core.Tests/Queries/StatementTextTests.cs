using Tributary.Core.Queries;

namespace Tributary.Core.Tests.Queries;

public sealed class StatementTextTests
{
    [Theory]
    [InlineData("  SELECT  a,\n\tb FROM t  ", "SELECT a, b FROM t")]
    [InlineData("SELECT a -- the a\nFROM t /* all of it */ WHERE b = 1", "SELECT a FROM t WHERE b = 1")]
    [InlineData("SELECT 'a  b', \"odd  name\", `x  y`, [p  q] FROM t", "SELECT 'a  b', \"odd  name\", `x  y`, [p  q] FROM t")]
    [InlineData("SELECT 'it''s  --  here'   FROM t", "SELECT 'it''s  --  here' FROM t")]
    [InlineData("SELECT $$a  -- b$$,  $tag$ c  $tag$, $1 FROM t", "SELECT $$a  -- b$$, $tag$ c  $tag$, $1 FROM t")]
    [InlineData("SELECT a/b - c FROM t", "SELECT a/b - c FROM t")]
    public void Comments_and_spacing_go_and_quoted_text_stays(string sql, string expected) =>
        Assert.Equal(expected, StatementText.Normalize(sql));

    [Theory]
    [InlineData("SELECT E'a\\'  b'  FROM t")]
    [InlineData("SELECT 'open  FROM t")]
    [InlineData("SELECT a /* outer /* inner */  */ FROM t")]
    [InlineData("SELECT arr[' ]'  --  ']  FROM t")]
    [InlineData("SELECT a  /* never closed")]
    public void Text_whose_quoting_could_be_misread_is_only_trimmed(string sql) =>
        Assert.Equal(sql.Trim(), StatementText.Normalize(" " + sql + " "));
}
