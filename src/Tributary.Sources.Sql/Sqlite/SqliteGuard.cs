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

    private const int ActionDelete = 9;

    /// <summary>The change-capture table: triggers on captured tables may insert into it.</summary>
    private const string ChangeTable = "_tributary_changes";
    private const int ActionInsert = 18;
    private const int ActionTransaction = 22;
    private const int ActionUpdate = 23;

    private static readonly delegate_authorizer Authorizer = Authorize;

    /// <summary>Installs the guard on an open connection's handle; <paramref name="onRead"/>, when given, hears each table and view of the main database a statement being prepared reads (a view, then the tables it reads).</summary>
    public static void Install(sqlite3 handle, Action<string>? onRead = null)
    {
        raw.sqlite3_set_authorizer(handle, onRead is null ? Authorizer : (userData, action, first, second, database, trigger) =>
        {
            if (action == ActionRead && database.utf8_to_string() is null or "main" && first.utf8_to_string() is { } table)
            {
                onRead(table);
            }

            return Authorize(userData, action, first, second, database, trigger);
        }, null);
        raw.sqlite3_db_config(handle, DbConfigDefensive, 1, out _);
    }

    /// <summary>
    /// Installs the guard of a write connection: reads as above, plus INSERT, UPDATE and DELETE on
    /// <paramref name="writableTables"/> of the main database (not from triggers, except the change-capture triggers'
    /// inserts into their change table), and transaction control.
    /// </summary>
    public static void InstallWriter(sqlite3 handle, IEnumerable<string> writableTables)
    {
        var tables = new HashSet<string>(writableTables, StringComparer.OrdinalIgnoreCase);
        raw.sqlite3_set_authorizer(handle, (userData, action, first, second, database, trigger) => action switch
        {
            ActionInsert when trigger.utf8_to_string() is not null && first.utf8_to_string() == ChangeTable => Ok,
            ActionInsert or ActionUpdate or ActionDelete =>
                tables.Contains(first.utf8_to_string() ?? "") && database.utf8_to_string() == "main" && trigger.utf8_to_string() is null ? Ok : Deny,
            ActionTransaction => Ok,
            _ => Authorize(userData, action, first, second, database, trigger),
        }, null);
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
