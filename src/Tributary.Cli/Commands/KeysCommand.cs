using System.CommandLine;
using System.Text.Json;
using Tributary.Core;
using Tributary.Core.Configuration;
using Tributary.Core.Security;
using Tributary.Server.Auth;
using Tributary.Server.State;

namespace Tributary.Cli.Commands;

/// <summary>
/// <c>tributary keys create|list|revoke</c>: API keys in the state store of the configuration's data directory. A new key
/// is printed once; only its hash is kept. Revoking takes effect at a running server's next request.
/// </summary>
internal static class KeysCommand
{
    public static Command Create()
    {
        var command = new Command("keys", "Manage API keys (auth.api_keys): create, list, revoke");
        command.Subcommands.Add(CreateKey());
        command.Subcommands.Add(ListKeys());
        command.Subcommands.Add(RevokeKey());
        return command;
    }

    private static Command CreateKey()
    {
        var config = CommonOptions.Config();
        var name = new Option<string>("--name") { Description = "A unique name for the key (the principal it authenticates as: key:NAME)", Required = true };
        var scopes = new Option<string>("--scopes") { Description = "What it may do, comma-separated: sources:shop:read, sources:*:write, topics:orders:publish, tools:user_orders, audit:read, *", Required = true };
        var expires = new Option<string?>("--expires") { Description = "Lifetime, such as 30d or 12h (default: never)" };
        var command = new Command("create", "Create a key and print it once") { config, name, scopes, expires };
        command.SetAction(parse => Run(parse.GetValue(config), store =>
        {
            var keyName = parse.GetValue(name)!;
            if (!System.Text.RegularExpressions.Regex.IsMatch(keyName, "^[A-Za-z0-9_.-]{1,64}$"))
            {
                Console.Error.WriteLine("--name must be 1 to 64 letters, digits and _ . -");
                return 2;
            }

            var granted = parse.GetValue(scopes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (granted.Length == 0 || granted.FirstOrDefault(s => !Grants.IsValid(s)) is { } bad)
            {
                Console.Error.WriteLine($"--scopes: '{(granted.Length == 0 ? "" : granted.First(s => !Grants.IsValid(s)))}' is not a scope (such as sources:shop:read, sources:*:write, topics:orders:publish, tools:user_orders, audit:read, or *)");
                return 2;
            }

            TimeSpan? lifetime = null;
            if (parse.GetValue(expires) is { } text)
            {
                if (!DurationParser.TryParse(text, out var parsed) || parsed <= TimeSpan.Zero || parsed > TimeSpan.FromDays(3650))
                {
                    Console.Error.WriteLine($"--expires: '{text}' is not a lifetime such as 30d, 12h or 90m (at most 3650d)");
                    return 2;
                }

                lifetime = parsed;
            }

            var (key, secret) = store.Keys.Create(keyName, granted, lifetime);
            store.State.Append(new AuditEntry(DateTimeOffset.UtcNow, $"cli:{Environment.UserName}", "keys.created", $"key:{key.Name}", null, null, 0, null, null, null));
            Console.Error.WriteLine($"API key '{key.Name}' created, scopes {string.Join(" ", key.Scopes)}, expires {ApiKey.Format(key.ExpiresAt)}. It is shown only now: keep it in a secret store.");
            Console.Out.WriteLine(secret);
            return 0;
        }));
        return command;
    }

    private static Command ListKeys()
    {
        var config = CommonOptions.Config();
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        var command = new Command("list", "List the keys (names, scopes, expiry, state; never the keys)") { config, json };
        command.SetAction(parse => Run(parse.GetValue(config), store =>
        {
            var keys = store.Keys.List();
            var now = DateTimeOffset.UtcNow;
            if (parse.GetValue(json))
            {
                using var stdout = Console.OpenStandardOutput();
                using var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true });
                writer.WriteStartArray();
                foreach (var key in keys)
                {
                    writer.WriteStartObject();
                    writer.WriteString("name", key.Name);
                    writer.WriteStartArray("scopes");
                    foreach (var scope in key.Scopes)
                    {
                        writer.WriteStringValue(scope);
                    }

                    writer.WriteEndArray();
                    writer.WriteString("created_at", ApiKey.Format(key.CreatedAt));
                    writer.WriteString("expires_at", ApiKey.Format(key.ExpiresAt));
                    writer.WriteString("state", key.State(now));
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
                return 0;
            }

            Console.Out.WriteLine($"{"NAME",-24} {"STATE",-8} {"EXPIRES",-21} SCOPES");
            foreach (var key in keys)
            {
                Console.Out.WriteLine($"{key.Name,-24} {key.State(now),-8} {ApiKey.Format(key.ExpiresAt),-21} {string.Join(" ", key.Scopes)}");
            }

            return 0;
        }));
        return command;
    }

    private static Command RevokeKey()
    {
        var config = CommonOptions.Config();
        var name = new Argument<string>("name") { Description = "The key's name" };
        var command = new Command("revoke", "Revoke a key (effective at a running server's next request)") { config, name };
        command.SetAction(parse => Run(parse.GetValue(config), store =>
        {
            var keyName = parse.GetValue(name)!;
            if (!store.Keys.Revoke(keyName))
            {
                Console.Error.WriteLine($"no active key named '{keyName}' (see tributary keys list)");
                return 1;
            }

            store.State.Append(new AuditEntry(DateTimeOffset.UtcNow, $"cli:{Environment.UserName}", "keys.revoked", $"key:{keyName}", null, null, 0, null, null, null));
            Console.Error.WriteLine($"API key '{keyName}' revoked");
            return 0;
        }));
        return command;
    }

    /// <summary>Loads the configuration (which must enable API keys) and runs <paramref name="action"/> on its state store.</summary>
    private static int Run(string? configOption, Func<(ApiKeyStore Keys, StateStore State), int> action)
    {
        var file = ConfigResolution.FindFile(configOption);
        if (file is null)
        {
            Console.Error.WriteLine($"keys need a configuration with auth.api_keys: true (--config FILE, ${CommonOptions.ConfigVariable}, or ./{ConfigLoader.DefaultFileName})");
            return 2;
        }

        TributaryConfig loaded;
        try
        {
            loaded = ConfigResolution.Load(file);
        }
        catch (ConfigException e)
        {
            ConfigResolution.PrintErrors(file, e);
            return 2;
        }

        if (!loaded.Auth.ApiKeys)
        {
            Console.Error.WriteLine($"{file}: auth.api_keys is not true, so the server would not accept keys: enable it first");
            return 2;
        }

        try
        {
            using var keys = new ApiKeyStore(StateStore.PathIn(loaded));
            using var state = new StateStore(StateStore.PathIn(loaded), loaded.Server.IdempotencyRetention);
            return action((keys, state));
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
    }
}
