using System.Text;

namespace Tributary.Core.Configuration;

/// <summary>Expands <c>${VAR}</c> and <c>${VAR:-default}</c> in configuration values; <c>$${</c> is a literal <c>${</c>.</summary>
public static class EnvInterpolation
{
    /// <summary>Expands <paramref name="value"/>, reporting unset variables without defaults to <paramref name="errors"/>.</summary>
    public static string Expand(string value, Func<string, string?> environment, ConfigErrors errors, string path, int? line)
    {
        if (!value.Contains('$', StringComparison.Ordinal))
        {
            return value;
        }

        var result = new StringBuilder(value.Length);
        var i = 0;
        while (i < value.Length)
        {
            if (value[i] == '$' && i + 2 < value.Length && value[i + 1] == '$' && value[i + 2] == '{')
            {
                result.Append("${");
                i += 3;
                continue;
            }

            if (value[i] != '$' || i + 1 >= value.Length || value[i + 1] != '{')
            {
                result.Append(value[i++]);
                continue;
            }

            var close = value.IndexOf('}', i + 2);
            if (close < 0)
            {
                errors.Add(path, $"unterminated '${{' in '{value}': close it with '}}' or write '$${{' for a literal", line);
                return value;
            }

            var expression = value[(i + 2)..close];
            var separator = expression.IndexOf(":-", StringComparison.Ordinal);
            var name = separator < 0 ? expression : expression[..separator];
            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                errors.Add(path, $"'${{{expression}}}' is not a valid variable reference: use ${{NAME}} or ${{NAME:-default}}", line);
                return value;
            }

            var resolved = environment(name);
            if (string.IsNullOrEmpty(resolved))
            {
                if (separator < 0)
                {
                    errors.Add(path, $"environment variable '{name}' is not set: set it, or give a default with ${{{name}:-value}}", line);
                    return value;
                }

                resolved = expression[(separator + 2)..];
            }

            result.Append(resolved);
            i = close + 1;
        }

        return result.ToString();
    }
}
