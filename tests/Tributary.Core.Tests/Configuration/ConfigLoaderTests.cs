using Tributary.Core.Configuration;
using Tributary.Server.Hosting;
using Tributary.Testing;

namespace Tributary.Core.Tests.Configuration;

public sealed class ConfigLoaderTests
{
    private static readonly string Database = DemoDatabase.Copy();

    private static ConfigLoader Loader(Dictionary<string, string>? environment = null) =>
        new(SourceProviders.All, name => environment is not null && environment.TryGetValue(name, out var value) ? value : null);

    [Fact]
    public void Loads_a_valid_file_into_records_with_defaults()
    {
        var config = Loader(new() { ["DB"] = Database }).Load(
            """
            server:
              http: "[::1]:9090"
              allowed_origins: [https://app.example.com]
            sources:
              shop:
                kind: sqlite
                path: ${DB}
                statement_timeout: 500ms
                max_result_bytes: 65536
            """,
            "/");

        Assert.Equal("[::1]:9090", config.Server.Http);
        Assert.Equal(["https://app.example.com"], config.Server.AllowedOrigins);
        var shop = Assert.Single(config.Sources);
        Assert.Equal(("shop", "sqlite", Database), (shop.Name, shop.Kind, shop.Settings["path"]));
        Assert.Equal(TimeSpan.FromMilliseconds(500), shop.StatementTimeout);
        Assert.Equal(500, shop.MaxRows);
        Assert.Equal(10_000, shop.MaxRowsLimit);
        Assert.Equal(65_536, shop.MaxResultBytes);
    }

    [Fact]
    public void Reports_every_error_at_once_with_its_path_and_what_to_change()
    {
        var error = Assert.Throws<ConfigException>(() => Loader().Load(
            """
            server:
              http: 0.0.0.0:8080
              max_request_bytes: lots
              colour: blue
            sources:
              shop:
                kind: sqlit
                path: ./shop.db
              Bad-Name:
                kind: sqlite
                path: ${MISSING_DB}
              slow:
                kind: sqlite
                path: ./nowhere.db
                statement_timeout: forever
                max_rows: 900
                max_rows_limit: 100
                pasword: x
            extra: 1
            """,
            "/tmp"));

        var messages = error.Errors.Select(e => e.ToString()).ToList();
        Assert.Contains(messages, m => m.StartsWith("server.http (line 2): '0.0.0.0:8080' is not a loopback address", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("server.max_request_bytes", StringComparison.Ordinal) && m.Contains("whole number", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("server.colour (line 4): unknown key (known: http,", StringComparison.Ordinal));
        Assert.Contains("sources.shop.kind (line 7): unknown provider 'sqlit' (known: postgres, sqlite)", messages);
        Assert.Contains(messages, m => m.StartsWith("sources.Bad-Name (line 9): a source name must be lowercase", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("environment variable 'MISSING_DB' is not set", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("sources.slow.path: no file at '/tmp/nowhere.db'", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("sources.slow.statement_timeout", StringComparison.Ordinal) && m.Contains("500ms, 10s or 2m", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("sources.slow.max_rows", StringComparison.Ordinal) && m.Contains("above max_rows_limit", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("sources.slow.pasword (line 18): unknown key", StringComparison.Ordinal) && m.Contains("path", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("extra (line 19): unknown top-level key", StringComparison.Ordinal));
        Assert.True(error.Errors.Count >= 11, string.Join(Environment.NewLine, messages));
    }

    [Fact]
    public void Broken_yaml_is_one_clear_error_with_its_line()
    {
        var error = Assert.Throws<ConfigException>(() => Loader().Load("sources:\n  shop: [unclosed\n", "/"));
        var only = Assert.Single(error.Errors);
        Assert.Contains("not valid YAML", only.Message, StringComparison.Ordinal);
        Assert.NotNull(only.Line);
    }

    [Fact]
    public void An_empty_file_is_an_empty_configuration() =>
        Assert.Empty(Loader().Load("", "/").Sources);

    [Theory]
    [InlineData("${NAME}", "value")]
    [InlineData("a-${NAME}-b", "a-value-b")]
    [InlineData("${UNSET:-fallback}", "fallback")]
    [InlineData("${NAME:-fallback}", "value")]
    [InlineData("$${NAME}", "${NAME}")]
    [InlineData("cost: $5", "cost: $5")]
    public void Interpolates_environment_variables(string text, string expected)
    {
        var errors = new ConfigErrors();
        Assert.Equal(expected, EnvInterpolation.Expand(text, n => n == "NAME" ? "value" : null, errors, "x", null));
        Assert.True(errors.IsEmpty);
    }

    [Theory]
    [InlineData("${UNSET}", "environment variable 'UNSET' is not set")]
    [InlineData("${OPEN", "unterminated")]
    [InlineData("${bad name}", "not a valid variable reference")]
    public void Reports_bad_interpolation(string text, string expected)
    {
        var errors = new ConfigErrors();
        EnvInterpolation.Expand(text, _ => null, errors, "sources.shop.path", 3);
        Assert.Contains(expected, Assert.Single(errors.All).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_sample_configuration_loads()
    {
        var samples = Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "samples"), "*.yaml");
        Assert.NotEmpty(samples);
        var loader = Loader(new() { ["SHOP_DB"] = Database, ["REPORTING_DB"] = Database });
        foreach (var sample in samples)
        {
            var config = loader.LoadFile(sample);
            Assert.NotEmpty(config.Sources);
        }
    }
}
