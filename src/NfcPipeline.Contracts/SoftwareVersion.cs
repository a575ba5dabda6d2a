using System.Reflection;

namespace NfcPipeline.Contracts;

/// <summary>This build's version (Directory.Build.props, with the commit when the build knew it), stored with results.</summary>
public static class SoftwareVersion
{
    public static string Current { get; } = "NfcPipeline " + (typeof(SoftwareVersion).Assembly
        .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown");
}
