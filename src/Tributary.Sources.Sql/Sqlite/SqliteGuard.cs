using SQLitePCL;

namespace Tributary.Sources.Sql.Sqlite;

/// <summary>
/// The engine-level read-only guard for SQLite connections: an authorizer that allows reading and nothing else.
/// The connection is also opened read-only; the authorizer closes what a read-only file still allows
/// (ATTACH of other files, <c>VACUUM INTO</c>, <c>PRAGMA writable_schema</c>, <c>load_extension</c>).
/// </summary>
internal static class SqliteGuard
{
    private const int Ok = 0;
    private const int Deny = 1;
    private const int ActionPragma = 19;
    private const int ActionRead = 20;
    private const int ActionSelect = 21;
    private const int ActionFunction = 31;
    private const int ActionRecursive = 33;
    private const int DbConfigDefensive = 1010;

    // Informational pragmas only: describe_schema and table-valued pragma functions use them.
    private static readonly HashSet<string> ReadOnlyPragmas = new(StringComparer.OrdinalIgnoreCase)
    {
        "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list",
    };

    private static readonly HashSet<string> DeniedFunctions = new(StringComparer.OrdinalIgnoreCase)
    {
        "load_extension", "fts3_tokenizer", "readfile", "writefile", "edit",
    };

    private static readonly delegate_authorizer Authorizer = Authorize;

    /// <summary>Installs the guard on an open connection's handle.</summary>
    public static void Install(sqlite3 handle)
    {
        raw.sqlite3_set_authorizer(handle, Authorizer, null);
        raw.sqlite3_db_config(handle, DbConfigDefensive, 1, out _);
    }

    private static int Authorize(object userData, int action, utf8z first, utf8z second, utf8z database, utf8z trigger) => action switch
    {
        ActionSelect or ActionRead or ActionRecursive => Ok,
        ActionFunction => DeniedFunctions.Contains(second.utf8_to_string() ?? "") ? Deny : Ok,
        ActionPragma => ReadOnlyPragmas.Contains(first.utf8_to_string() ?? "") ? Ok : Deny,
        _ => Deny,
    };
}
