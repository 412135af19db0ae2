namespace Tributary.Core.Configuration;

/// <summary>The whole Tributary configuration, as loaded from <c>tributary.yaml</c> and validated.</summary>
public sealed record TributaryConfig
{
    /// <summary>Server settings (bind address, HTTP safety, data directory).</summary>
    public ServerConfig Server { get; init; } = new();

    /// <summary>Data sources by name, in the order the file lists them.</summary>
    public IReadOnlyList<SourceConfig> Sources { get; init; } = [];

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

    /// <summary>Provider-specific settings (scalar values, after interpolation), keyed by their YAML name.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>Where each provider-specific setting sits in the file, for error messages.</summary>
    public string Path => $"sources.{Name}";
}
