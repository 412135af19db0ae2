namespace Tributary.Core.Configuration;

/// <summary>The whole Tributary configuration, as loaded from <c>tributary.yaml</c> and validated.</summary>
public sealed record TributaryConfig
{
    /// <summary>Server settings (bind address, HTTP safety, data directory).</summary>
    public ServerConfig Server { get; init; } = new();

    /// <summary>Data sources by name, in the order the file lists them.</summary>
    public IReadOnlyList<SourceConfig> Sources { get; init; } = [];

    /// <summary>Named tools (parameterized statements), in the order the file lists them.</summary>
    public IReadOnlyList<ToolConfig> Tools { get; init; } = [];

    /// <summary>Topics (durable event logs), in the order the file lists them.</summary>
    public IReadOnlyList<TopicConfig> Topics { get; init; } = [];

    /// <summary>Who may use the server over HTTP.</summary>
    public AuthConfig Auth { get; init; } = new();

    /// <summary>True for the built-in demo, which also runs a gentle activity simulator on its topics.</summary>
    public bool IsDemo { get; init; }

    /// <summary>Directory that relative paths in the file are relative to; default the current directory.</summary>
    public string BaseDirectory { get; init; } = Directory.GetCurrentDirectory();
}

/// <summary>Settings of the Tributary server itself.</summary>
public sealed record ServerConfig
{
    /// <summary>Default HTTP bind address.</summary>
    public const string DefaultHttp = "127.0.0.1:8080";

    /// <summary>Default request body limit: 1 MiB.</summary>
    public const long DefaultMaxRequestBytes = 1024 * 1024;

    /// <summary>HTTP bind address as <c>host:port</c>; default <c>127.0.0.1:8080</c>.</summary>
    public string Http { get; init; } = DefaultHttp;

    /// <summary>The URL clients use to reach this server (its canonical resource is this plus <c>/mcp</c>); needed by OAuth.</summary>
    public Uri? PublicUrl { get; init; }

    /// <summary>HTTPS for the HTTP endpoint; null for plain HTTP.</summary>
    public TlsConfig? Tls { get; init; }

    /// <summary>Extra origins (scheme://host:port) accepted besides the loopback ones; default none.</summary>
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];

    /// <summary>Extra host names accepted in the <c>Host</c> header besides the loopback ones; default none.</summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    /// <summary>Largest accepted HTTP request body in bytes; default 1 MiB.</summary>
    public long MaxRequestBytes { get; init; } = DefaultMaxRequestBytes;

    /// <summary>Directory for Tributary's own files (demo data); default <c>./.tributary</c>.</summary>
    public string DataDir { get; init; } = "./.tributary";

    /// <summary>Secret that signs query cursors; default a random key per process, so cursors die with it.</summary>
    public string? CursorSecret { get; init; }

    /// <summary>How long a write's idempotency key is remembered; default 24 h.</summary>
    public TimeSpan IdempotencyRetention { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Serve Prometheus metrics at <c>/metrics</c> (HTTP only; behind authentication when it is configured); default true.</summary>
    public bool Metrics { get; init; } = true;

    /// <summary>An OpenTelemetry collector to export traces and metrics to over OTLP (such as <c>http://127.0.0.1:4318</c>); none by default.</summary>
    public Uri? OtlpEndpoint { get; init; }

    /// <summary>A Redis (StackExchange.Redis configuration, such as <c>127.0.0.1:6379</c>) that servers share as the result cache's second level; none by default.</summary>
    public string? Redis { get; init; }
}

/// <summary>One data source: a provider kind plus its settings.</summary>
public sealed record SourceConfig
{
    /// <summary>Default statement timeout.</summary>
    public static readonly TimeSpan DefaultStatementTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Default number of rows per query page.</summary>
    public const int DefaultMaxRows = 500;

    /// <summary>Default upper bound a caller may ask for with <c>max_rows</c>.</summary>
    public const int DefaultMaxRowsLimit = 10_000;

    /// <summary>Default size bound of one result page: 1 MiB of JSON.</summary>
    public const long DefaultMaxResultBytes = 1024 * 1024;

    /// <summary>Default number of a <c>batch_query</c> call's items that run against the source at once.</summary>
    public const int DefaultBatchConcurrency = 4;

    /// <summary>The source's name, as tools and resources refer to it.</summary>
    public required string Name { get; init; }

    /// <summary>The provider that serves it (<c>sqlite</c>, ...).</summary>
    public required string Kind { get; init; }

    /// <summary>What the data is, for the model; default empty.</summary>
    public string Description { get; init; } = "";

    /// <summary>Longest a statement may run before it is cancelled; default 10 s.</summary>
    public TimeSpan StatementTimeout { get; init; } = DefaultStatementTimeout;

    /// <summary>Rows per page when the caller does not say; default 500.</summary>
    public int MaxRows { get; init; } = DefaultMaxRows;

    /// <summary>Largest <c>max_rows</c> a caller may ask for; default 10,000.</summary>
    public int MaxRowsLimit { get; init; } = DefaultMaxRowsLimit;

    /// <summary>Size bound of one result page in bytes of JSON: a page stops at the row that crosses it; default 1 MiB.</summary>
    public long MaxResultBytes { get; init; } = DefaultMaxResultBytes;

    /// <summary>How many items of one <c>batch_query</c> call run against this source at once; default 4.</summary>
    public int BatchConcurrency { get; init; } = DefaultBatchConcurrency;

    /// <summary>Provider-specific settings (scalar values, after interpolation), keyed by their YAML name.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>True when the source accepts writes, and then only to <see cref="WritableTables"/>; default false.</summary>
    public bool Writable { get; init; }

    /// <summary>The tables writes may change, with their version column and value rules.</summary>
    public IReadOnlyList<WritableTableConfig> WritableTables { get; init; } = [];

    /// <summary>Tables whose changes become events of a topic (change capture).</summary>
    public IReadOnlyList<CaptureConfig> Captures { get; init; } = [];

    /// <summary>Where each provider-specific setting sits in the file, for error messages.</summary>
    public string Path => $"sources.{Name}";

    /// <summary>The writable table called <paramref name="name"/>, or null when writes to it are not allowed.</summary>
    public WritableTableConfig? WritableTable(string name) =>
        Writable ? WritableTables.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.Ordinal)) : null;
}

/// <summary>A topic: a durable, ordered event log with a retention bound.</summary>
public sealed record TopicConfig
{
    /// <summary>Default number of events kept per topic.</summary>
    public const long DefaultMaxEvents = 100_000;

    /// <summary>The topic's name, as tools and resources refer to it.</summary>
    public required string Name { get; init; }

    /// <summary>What the events are, for the model.</summary>
    public string Description { get; init; } = "";

    /// <summary>Most events kept; older ones are dropped first. Default 100,000.</summary>
    public long MaxEvents { get; init; } = DefaultMaxEvents;

    /// <summary>Oldest event kept. Default 7 days.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromDays(7);

    /// <summary>The secret that signs webhooks to <c>POST /hooks/{topic}</c>; null when the topic takes no webhooks.</summary>
    public string? WebhookSecret { get; init; }

    /// <summary>A log file whose new lines become the topic's events (full path); null for none.</summary>
    public string? TailPath { get; init; }

    /// <summary>An upstream Server-Sent Events feed whose events become the topic's; null for none.</summary>
    public Uri? FeedUrl { get; init; }
}

/// <summary>Change capture of one table into a topic.</summary>
public sealed record CaptureConfig
{
    /// <summary>Operations captured by default.</summary>
    public static readonly IReadOnlyList<string> AllOperations = ["insert", "update", "delete"];

    /// <summary>The table whose changes are captured (in a PostgreSQL source, a table of its first schema).</summary>
    public required string Table { get; init; }

    /// <summary>The topic the changes go to.</summary>
    public required string Topic { get; init; }

    /// <summary>Which operations: insert, update, delete (default all).</summary>
    public IReadOnlyList<string> Operations { get; init; } = AllOperations;

    /// <summary>Which columns each change carries; null for all.</summary>
    public IReadOnlyList<string>? Columns { get; init; }
}

/// <summary>A table that writes may change.</summary>
public sealed record WritableTableConfig
{
    /// <summary>The table's name as tools give it (<c>orders</c>, or <c>sales.orders</c> outside the first schema).</summary>
    public required string Name { get; init; }

    /// <summary>
    /// The column that carries the row's version for optimistic concurrency, incremented by every write; null when the
    /// table has none (PostgreSQL then uses the row's <c>xmin</c>).
    /// </summary>
    public string? VersionColumn { get; init; }

    /// <summary>The columns writes may set, with their rules; null when every column but the key and the version may be set.</summary>
    public IReadOnlyDictionary<string, ValueRules>? Columns { get; init; }
}

/// <summary>Rules a value must meet, besides its column's or parameter's type (JSON Schema keywords).</summary>
public sealed record ValueRules
{
    /// <summary>Smallest number allowed.</summary>
    public decimal? Minimum { get; init; }

    /// <summary>Largest number allowed.</summary>
    public decimal? Maximum { get; init; }

    /// <summary>Fewest characters of a string.</summary>
    public int? MinLength { get; init; }

    /// <summary>Most characters of a string.</summary>
    public int? MaxLength { get; init; }

    /// <summary>A regular expression a string must match.</summary>
    public string? Pattern { get; init; }

    /// <summary>A JSON Schema string format: date-time, date, time, email, uuid, uri.</summary>
    public string? Format { get; init; }

    /// <summary>The only values allowed.</summary>
    public IReadOnlyList<string>? Enum { get; init; }
}

/// <summary>A named tool: one parameterized statement against one source (or one call to an <c>http</c> source), with typed parameters.</summary>
public sealed record ToolConfig
{
    /// <summary>The tool's name as the model calls it.</summary>
    public required string Name { get; init; }

    /// <summary>The source the statement runs against.</summary>
    public required string Source { get; init; }

    /// <summary>What the tool does, for the model.</summary>
    public string Description { get; init; } = "";

    /// <summary>The statement, with parameters written <c>@name</c>; empty for a tool over an <c>http</c> source.</summary>
    public required string Statement { get; init; }

    /// <summary>The parameters, in the order the file lists them.</summary>
    public IReadOnlyList<ToolParameterConfig> Parameters { get; init; } = [];

    /// <summary>What the statement does: a read, or a write of <see cref="WritesTable"/>.</summary>
    public StatementShape Shape { get; init; } = StatementShape.Read;

    /// <summary>The table a write statement changes; null for reads.</summary>
    public string? WritesTable { get; init; }

    /// <summary>Overrides the destructive hint a write tool gets from its statement (DELETE, UPDATE and upserts are destructive).</summary>
    public bool? Destructive { get; init; }

    /// <summary>Overrides the idempotent hint a write tool gets from its statement (DELETE is idempotent).</summary>
    public bool? Idempotent { get; init; }

    /// <summary>How long a read tool's result is served again without running it; null: the source's <c>cache_ttl</c>, zero: never cached.</summary>
    public TimeSpan? CacheTtl { get; init; }

    /// <summary>The call a tool over an <c>http</c> source makes instead of a statement; null for SQL tools.</summary>
    public HttpToolConfig? Http { get; init; }

    /// <summary>Where the tool sits in the file, for error messages.</summary>
    public string Path => $"tools.{Name}";
}

/// <summary>The call a named tool makes to its <c>http</c> source: method, path template, where parameters go, and the part of the answer returned.</summary>
public sealed record HttpToolConfig
{
    /// <summary>The methods a tool may use; those after GET change something.</summary>
    public static readonly IReadOnlyList<string> Methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    /// <summary>GET (the default), POST, PUT, PATCH or DELETE.</summary>
    public string Method { get; init; } = "GET";

    /// <summary>The path under the source's base URL, with parameters as <c>{name}</c>.</summary>
    public required PathTemplate Path { get; init; }

    /// <summary>The parameters sent in the query string, each under its name there.</summary>
    public IReadOnlyList<ParameterMapping> Query { get; init; } = [];

    /// <summary>The parameters that make up the JSON body (POST, PUT and PATCH), each under its property name.</summary>
    public IReadOnlyList<ParameterMapping> Body { get; init; } = [];

    /// <summary>The part of a JSON answer the tool returns (its <c>pointer</c>); null for the whole answer.</summary>
    public JsonPointer? Projection { get; init; }

    /// <summary>True when the method sends a body: POST, PUT and PATCH.</summary>
    public bool HasBody => Method is "POST" or "PUT" or "PATCH";
}

/// <summary>A parameter sent under a name of the API's (a query parameter or a body property).</summary>
/// <param name="Name">The name the API sees.</param>
/// <param name="Parameter">The tool's parameter that gives the value.</param>
public sealed record ParameterMapping(string Name, string Parameter);

/// <summary>One typed parameter of a named tool.</summary>
public sealed record ToolParameterConfig
{
    /// <summary>The parameter's name, as the statement writes it after <c>@</c>.</summary>
    public required string Name { get; init; }

    /// <summary>JSON type: string, integer, number or boolean.</summary>
    public string Type { get; init; } = "string";

    /// <summary>What the value means, for the model.</summary>
    public string Description { get; init; } = "";

    /// <summary>True when the caller must give it.</summary>
    public bool Required { get; init; }

    /// <summary>The value used when the caller leaves it out (as written in the file), or null.</summary>
    public string? Default { get; init; }

    /// <summary>A claim of the caller's credentials (such as <c>sub</c>) that gives the value; the caller cannot set it.</summary>
    public string? FromClaim { get; init; }

    /// <summary>Rules beyond the type.</summary>
    public ValueRules Rules { get; init; } = new();
}

/// <summary>What a named tool's statement does.</summary>
public enum StatementShape
{
    /// <summary>Reads only (SELECT, WITH ... SELECT, VALUES).</summary>
    Read,

    /// <summary>INSERT without ON CONFLICT DO UPDATE.</summary>
    Insert,

    /// <summary>INSERT ... ON CONFLICT DO UPDATE (or INSERT OR REPLACE): may overwrite.</summary>
    Upsert,

    /// <summary>UPDATE.</summary>
    Update,

    /// <summary>DELETE.</summary>
    Delete,
}
