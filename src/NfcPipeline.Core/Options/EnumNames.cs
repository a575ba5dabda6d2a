namespace NfcPipeline.Core.Options;

/// <summary>
/// An enum member by its name only. Enum.TryParse also takes numbers and comma lists, and "Abnormal,Hemorrhage" ORs
/// to another member, so a setting's typo became a different category instead of an error.
/// </summary>
public static class EnumNames
{
    public static bool TryParse<T>(string? text, out T value) where T : struct, Enum
    {
        value = default;
        string? name = text?.Trim();
        return !string.IsNullOrEmpty(name) && Enum.GetNames<T>().Contains(name, StringComparer.OrdinalIgnoreCase) &&
            Enum.TryParse(name, ignoreCase: true, out value);
    }
}
