using Tributary.Sources.Sql.Sqlite;

namespace Tributary.Sources.Sql.Tests.Sqlite;

public sealed class SqlitePositionalParametersTests
{
    [Theory]
    [InlineData("SELECT ? , ?", "SELECT ?1 , ?2")]
    [InlineData("SELECT '?', \"a?\", [b?], `c?`, ? -- ?\n, ? /* ? */", "SELECT '?', \"a?\", [b?], `c?`, ?1 -- ?\n, ?2 /* ? */")]
    [InlineData("SELECT 'it''s ?', ?", "SELECT 'it''s ?', ?1")]
    [InlineData("SELECT ?5, ?", "SELECT ?5, ?6")]
    [InlineData("SELECT @a, :b", "SELECT @a, :b")]
    public void Numbers_anonymous_parameters_outside_literals_and_comments(string sql, string expected) =>
        Assert.Equal(expected, SqlitePositionalParameters.Number(sql));
}
