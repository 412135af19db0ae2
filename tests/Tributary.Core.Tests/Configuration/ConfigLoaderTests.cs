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
                batch_concurrency: 8
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
        Assert.Equal(8, shop.BatchConcurrency);
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
                batch_concurrency: 0
            extra: 1
            """,
            "/tmp"));

        var messages = error.Errors.Select(e => e.ToString()).ToList();
        Assert.Contains(messages, m => m.StartsWith("server.http (line 2): '0.0.0.0:8080' is not a loopback address", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("server.max_request_bytes", StringComparison.Ordinal) && m.Contains("whole number", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("server.colour (line 4): unknown key (known: http,", StringComparison.Ordinal));
        Assert.Contains("sources.shop.kind (line 7): unknown provider 'sqlit' (known: http, postgres, sqlite)", messages);
        Assert.Contains(messages, m => m.StartsWith("sources.Bad-Name (line 9): a source name must be lowercase", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("environment variable 'MISSING_DB' is not set", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("sources.slow.path: no file at '/tmp/nowhere.db'", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("sources.slow.statement_timeout", StringComparison.Ordinal) && m.Contains("500ms, 10s, 2m", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("sources.slow.max_rows", StringComparison.Ordinal) && m.Contains("above max_rows_limit", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("sources.slow.pasword (line 18): unknown key", StringComparison.Ordinal) && m.Contains("path", StringComparison.Ordinal));
        Assert.Contains("sources.slow.batch_concurrency (line 19): '0' must be a whole number from 1 to 64", messages);
        Assert.Contains(messages, m => m.StartsWith("extra (line 20): unknown top-level key", StringComparison.Ordinal));
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

    [Fact]
    public void Loads_writable_tables_and_named_tools()
    {
        var config = Loader(new() { ["DB"] = Database }).Load(
            """
            sources:
              shop:
                kind: sqlite
                path: ${DB}
                writable: true
                tables:
                  orders:
                    version_column: version
                    columns:
                      status: { enum: [paid, shipped] }
                      note: {}
            tools:
              user_orders:
                source: shop
                description: Orders of one customer
                statement: SELECT id FROM orders WHERE customer_id = @customer_id AND created_at >= @since
                parameters:
                  customer_id: { type: integer, minimum: 1, required: true }
                  since: { type: string, format: date-time, default: "2020-01-01T00:00:00Z" }
              drop_note:
                source: shop
                statement: DELETE FROM "orders" WHERE id = @id
                parameters:
                  id: { type: integer, required: true }
              upsert_note:
                source: shop
                statement: INSERT INTO orders (id, note) VALUES (@id, @note) ON CONFLICT (id) DO UPDATE SET note = excluded.note
                parameters:
                  id: { type: integer, required: true }
                  note: { type: string, max_length: 100 }
            """,
            "/");

        var orders = Assert.Single(Assert.Single(config.Sources).WritableTables);
        Assert.Equal(("orders", "version"), (orders.Name, orders.VersionColumn));
        Assert.Equal(["paid", "shipped"], orders.Columns!["status"].Enum);
        var read = config.Tools[0];
        Assert.Equal((StatementShape.Read, null), (read.Shape, read.WritesTable));
        Assert.Equal(1m, read.Parameters[0].Rules.Minimum);
        Assert.Equal("2020-01-01T00:00:00Z", read.Parameters[1].Default);
        Assert.Equal((StatementShape.Delete, "orders"), (config.Tools[1].Shape, config.Tools[1].WritesTable));
        Assert.Equal(StatementShape.Upsert, config.Tools[2].Shape);
        Assert.Equal(100, config.Tools[2].Parameters[1].Rules.MaxLength);
    }

    [Fact]
    public void Reports_every_tool_and_write_error_with_what_to_change()
    {
        var error = Assert.Throws<ConfigException>(() => Loader(new() { ["DB"] = Database }).Load(
            """
            sources:
              shop:
                kind: sqlite
                path: ${DB}
                writable: true
                tables:
                  orders:
                    columns:
                      status: { enum: [paid], colour: red }
              logs:
                kind: sqlite
                path: ${DB}
                tables:
                  app_logs: {}
                capture:
                  app_logs: { topic: nowhere, operations: [insert, truncate] }
                  _tributary_changes: { topic: nowhere }
            tools:
              query:
                source: shop
                statement: SELECT 1
              bad_params:
                source: shop
                statement: SELECT * FROM orders WHERE id = @id AND status = @status
                parameters:
                  id: { type: int, required: true, default: "5" }
                  unused: { type: string }
              writes_elsewhere:
                source: shop
                statement: UPDATE customers SET name = @name WHERE id = 1
                parameters:
                  name: { type: string, pattern: "([" }
              read_only_write:
                source: logs
                statement: DELETE FROM app_logs
              no_source:
                source: nowhere
                statement: DROP TABLE orders
              reserved:
                source: shop
                statement: DELETE FROM orders WHERE id = @dry_run
                parameters:
                  dry_run: { type: integer }
            """,
            "/"));

        var messages = error.Errors.Select(e => e.ToString()).ToList();
        void Has(string path, string text) => Assert.True(
            messages.Any(m => m.StartsWith(path, StringComparison.Ordinal) && m.Contains(text, StringComparison.Ordinal)),
            $"no error at {path} containing '{text}' in:{Environment.NewLine}{string.Join(Environment.NewLine, messages)}");

        Has("sources.shop.tables.orders.columns.status.colour", "unknown key");
        Has("sources.logs.writable", "'tables' lists writable tables but 'writable' is not true");
        Has("tools.query", "one of Tributary's own tools");
        Has("tools.bad_params.parameters.id.type", "'int' is not one of string, integer, number, boolean");
        Has("tools.bad_params.parameters.id.default", "a required parameter has no use for a default");
        Has("tools.bad_params.parameters", "uses @status but no parameter 'status' is declared");
        Has("tools.bad_params.parameters.unused", "never uses @unused");
        Has("tools.writes_elsewhere.statement", "writes table 'customers', which is not among the writable tables of source 'shop' (orders)");
        Has("tools.writes_elsewhere.parameters.name.pattern", "not a valid regular expression");
        Has("tools.read_only_write.statement", "source 'logs' is read-only");
        Has("tools.no_source.statement", "must be one SELECT");
        Has("tools.reserved.parameters.dry_run", "an argument every write tool has");
        Has("sources.logs.capture.app_logs.topic", "unknown topic 'nowhere' (topics: none configured");
        Has("sources.logs.capture.app_logs.operations", "'truncate' is not an operation");
        Has("sources.logs.capture._tributary_changes", "Tributary's own change table, which cannot itself be captured");
    }

    [Fact]
    public void Loads_change_capture_of_a_postgres_source()
    {
        var config = Loader().Load(
            """
            sources:
              pg:
                kind: postgres
                connection_string: Host=127.0.0.1;Database=shop;Username=reader
                schemas: [sales, public]
                capture:
                  orders: { topic: orders, operations: [insert, delete], columns: [id, status] }
                  customers: { topic: orders }
            topics:
              orders: {}
            """,
            "/");

        var captures = Assert.Single(config.Sources).Captures;
        Assert.Equal(("orders", "orders"), (captures[0].Table, captures[0].Topic));
        Assert.Equal(["insert", "delete"], captures[0].Operations);
        Assert.Equal(["id", "status"], captures[0].Columns!);
        Assert.Equal(CaptureConfig.AllOperations, captures[1].Operations);
        Assert.Null(captures[1].Columns);
    }

    [Fact]
    public void Loads_the_auth_block_and_then_allows_a_non_loopback_address()
    {
        var directory = TestPaths.NewTempDirectory();
        File.WriteAllText(Path.Combine(directory, "ca.pem"), "");
        File.WriteAllText(Path.Combine(directory, "server.pem"), "");
        var config = Loader().Load(
            """
            server:
              http: 0.0.0.0:8443
              public_url: https://mcp.example.com
              tls: { certificate: ./server.pem, key: ./ca.pem }
            auth:
              oauth:
                issuer: https://login.example.com/
                algorithms: [RS256, ES256]
                clock_skew: 1m
              api_keys: true
              mtls:
                required: false
                ca_file: ./ca.pem
                clients:
                  "CN=ci-runner": [sources:shop:read, "topics:*:publish"]
              rate_limit: { per_minute: 600, burst: 50, unauthenticated_per_minute: 30, principals: { ci: 6000 } }
            """,
            directory);

        Assert.True(config.Auth.Enabled);
        Assert.Equal(new Uri("https://login.example.com/"), config.Auth.OAuth!.Issuer);
        Assert.Equal(["RS256", "ES256"], config.Auth.OAuth.Algorithms);
        Assert.Equal(TimeSpan.FromMinutes(1), config.Auth.OAuth.ClockSkew);
        Assert.True(config.Auth.ApiKeys);
        Assert.False(config.Auth.Mtls!.Required);
        Assert.Equal(["sources:shop:read", "topics:*:publish"], config.Auth.Mtls.Clients["CN=ci-runner"]);
        Assert.Equal(6000, config.Auth.RateLimit.Principals["ci"]);
        Assert.Equal("https://mcp.example.com/mcp", Tributary.Server.Auth.TributaryAuthentication.ResourceUri(config));
    }

    [Fact]
    public void Reports_every_auth_error_with_what_to_change()
    {
        var error = Assert.Throws<ConfigException>(() => Loader().Load(
            """
            server:
              public_url: http://mcp.example.com
            sources:
              shop: { kind: sqlite, path: ./shop.db }
            tools:
              mine:
                source: shop
                statement: SELECT * FROM orders WHERE customer_id = @customer
                parameters:
                  customer: { type: integer, from_claim: sub, required: true }
            auth:
              oauth:
                issuer: http://login.example.com/
                algorithms: [none, HS256]
                clock_skew: 1h
              mtls:
                clients:
                  "CN=x": [sources:shop:delete]
            """,
            Path.GetDirectoryName(Database)!));

        var messages = error.Errors.Select(e => e.ToString()).ToList();
        Assert.Contains(messages, m => m.StartsWith("auth.oauth.issuer", StringComparison.Ordinal) && m.Contains("must use https", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("auth.oauth.algorithms", StringComparison.Ordinal) && m.Contains("'none' is not an accepted signing algorithm", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("'HS256' is not an accepted", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("auth.oauth.clock_skew", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("auth.mtls", StringComparison.Ordinal) && m.Contains("ca_file", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("'sources:shop:delete' is not a scope", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("auth.mtls", StringComparison.Ordinal) && m.Contains("server.tls", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("server.public_url", StringComparison.Ordinal) && m.Contains("https", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("from_claim", StringComparison.Ordinal) && m.Contains("remove required and default", StringComparison.Ordinal));

        var withoutAuth = Assert.Throws<ConfigException>(() => Loader().Load(
            """
            sources:
              shop: { kind: sqlite, path: ./shop.db }
            tools:
              mine:
                source: shop
                statement: SELECT * FROM orders WHERE customer_id = @customer
                parameters:
                  customer: { type: integer, from_claim: sub }
            """,
            Path.GetDirectoryName(Database)!));
        Assert.Contains(withoutAuth.Errors, e => e.ToString().Contains("from_claim), which needs authentication", StringComparison.Ordinal));

        var oauthWithoutUrl = Assert.Throws<ConfigException>(() => Loader().Load("auth: { oauth: { issuer: https://login.example.com/ } }", "/"));
        Assert.Contains(oauthWithoutUrl.Errors, e => e.ToString().StartsWith("server.public_url: missing", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("*", "sources:shop:write", true)]
    [InlineData("sources:read", "sources:shop:read", true)]
    [InlineData("sources:read", "sources:shop:write", false)]
    [InlineData("sources:*:write", "sources:sales:write", true)]
    [InlineData("sources:shop:read", "sources:sales:read", false)]
    [InlineData("topics:orders:publish", "topics:orders:read", false)]
    [InlineData("tools:*", "tools:user_orders", true)]
    [InlineData("tools:user_orders", "tools:user_data", false)]
    [InlineData("audit:read", "audit:read", true)]
    public void Scopes_grant_what_they_name_and_nothing_more(string granted, string needed, bool allowed) =>
        Assert.Equal(allowed, new Tributary.Core.Security.Grants([granted]).Allows(needed));
}
