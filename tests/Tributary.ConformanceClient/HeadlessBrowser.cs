namespace Tributary.ConformanceClient;

/// <summary>The person at the browser, for the suite's authorization servers, which sign in at once: opens the page and follows its redirect to the client's loopback listener.</summary>
internal static class HeadlessBrowser
{
    private static readonly HttpClient Http = new();

    public static async Task OpenAsync(Uri page, CancellationToken cancellationToken)
    {
        using var response = await Http.GetAsync(page, cancellationToken);
        response.EnsureSuccessStatusCode();
    }
}
