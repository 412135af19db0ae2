namespace Tributary.ConformanceHost.Fixtures;

/// <summary>The small binary payloads the fixtures return.</summary>
internal static class SampleMedia
{
    /// <summary>A 1x1 red pixel PNG.</summary>
    public static ReadOnlyMemory<byte> RedPixelPng { get; } = Convert.FromBase64String(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==");

    /// <summary>A WAV file holding one silent 16-bit mono sample at 8 kHz.</summary>
    public static ReadOnlyMemory<byte> SilentWav { get; } = Convert.FromBase64String(
        "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQIAAAAAAA==");
}
