using System.Globalization;
using System.Text.Json;

namespace Tributary.Core.Configuration;

/// <summary>An RFC 6901 JSON pointer, such as <c>/items</c> or <c>/data/0/name</c> (<c>~1</c> for '/', <c>~0</c> for '~' in a name).</summary>
public sealed class JsonPointer
{
    private readonly string[] _tokens;

    private JsonPointer(string text, string[] tokens)
    {
        Text = text;
        _tokens = tokens;
    }

    /// <summary>The pointer as written.</summary>
    public string Text { get; }

    /// <summary>Parses <paramref name="text"/>; null with the <paramref name="problem"/> when it is not a JSON pointer.</summary>
    public static JsonPointer? Parse(string text, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(text);
        problem = null;
        if (!text.StartsWith('/'))
        {
            problem = "a JSON pointer starts with '/', such as /items or /data/0/name";
            return null;
        }

        var tokens = text[1..].Split('/');
        foreach (var token in tokens)
        {
            for (var i = token.IndexOf('~', StringComparison.Ordinal); i >= 0; i = token.IndexOf('~', i + 1))
            {
                if (i + 1 >= token.Length || token[i + 1] is not ('0' or '1'))
                {
                    problem = $"'~' in '{token}' must be followed by 0 (for '~') or 1 (for '/')";
                    return null;
                }
            }
        }

        return new JsonPointer(text, [.. tokens.Select(t => t.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal))]);
    }

    /// <summary>The value the pointer names in <paramref name="document"/>, or false when there is none.</summary>
    public bool TryFind(JsonElement document, out JsonElement found)
    {
        found = document;
        foreach (var token in _tokens)
        {
            if (found.ValueKind == JsonValueKind.Object && found.TryGetProperty(token, out var property))
            {
                found = property;
            }
            else if (found.ValueKind == JsonValueKind.Array && token is not "" && (token == "0" || token[0] != '0') && token.All(char.IsAsciiDigit)
                && int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < found.GetArrayLength())
            {
                found = found[index];
            }
            else
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public override string ToString() => Text;
}
