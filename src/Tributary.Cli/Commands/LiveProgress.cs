using Spectre.Console;

namespace Tributary.Cli.Commands;

/// <summary>
/// Shows people what a long command is doing: a spinner with a live status on the terminal. Never with <c>--json</c>, and
/// never when the output goes to a file or a pipe, so scripts see only the result.
/// </summary>
internal static class LiveProgress
{
    /// <summary>Runs <paramref name="work"/>, which reports its progress through the action it is given.</summary>
    public static Task<T> RunAsync<T>(bool json, string status, Func<Action<string>, Task<T>> work)
    {
        if (json || Console.IsOutputRedirected || Console.IsErrorRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            return work(_ => { });
        }

        return AnsiConsole.Status().Spinner(Spinner.Known.Dots).StartAsync(Markup.Escape(status), context => work(text => context.Status(Markup.Escape(text))));
    }
}
