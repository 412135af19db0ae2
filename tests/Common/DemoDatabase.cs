using System.Security.Cryptography;
using Tributary.Server.Demo;

namespace Tributary.Testing;

/// <summary>The demo shop database, built once per test run and copied for tests that need their own file.</summary>
public static class DemoDatabase
{
    private static readonly Lazy<string> Original = new(() =>
    {
        var path = Path.Combine(TestPaths.NewTempDirectory(), DemoShop.FileName);
        DemoShop.EnsureCreated(path);
        return path;
    });

    /// <summary>A fresh copy of the demo database in its own folder; returns its path.</summary>
    public static string Copy()
    {
        var path = Path.Combine(TestPaths.NewTempDirectory(), DemoShop.FileName);
        File.Copy(Original.Value, path);
        return path;
    }

    /// <summary>A data directory that already holds the demo database (so a server starts without building it).</summary>
    public static string DataDirectory() => Path.GetDirectoryName(Copy())!;

    /// <summary>SHA-256 of a file's bytes, to prove a database was not changed.</summary>
    public static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
}
