using System.Collections;
using System.Reflection;

namespace NfcPipeline.Worker.Hosting;

/// <summary>
/// The keys of a configuration section that no property of its options type reads: a typo ("Worker:StopTimout") bound
/// to nothing and ran on the default, while the worker said it refuses settings that cannot run.
/// </summary>
public static class UnknownSettings
{
    /// <param name="alsoRead">Keys read elsewhere (Worker:Enabled, Inference:Batching, a section of its own).</param>
    public static IEnumerable<string> Of(IConfigurationSection section, Type options, params string[] alsoRead)
    {
        var properties = options.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite || IsNested(p.PropertyType))
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var child in section.GetChildren())
        {
            if (alsoRead.Contains(child.Key, StringComparer.OrdinalIgnoreCase)) continue;
            if (!properties.TryGetValue(child.Key, out var property))
                yield return $"{child.Path} is not a setting (a typo? it would be ignored).";
            else if (IsNested(property.PropertyType))
                foreach (var unknown in Of(child, property.PropertyType))
                    yield return unknown;
        }
    }

    /// <summary>An options class of its own settings, looked into; values, lists and maps are not.</summary>
    private static bool IsNested(Type type) =>
        type.IsClass && type != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(type);
}
