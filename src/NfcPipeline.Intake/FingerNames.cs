using System.Text.RegularExpressions;

namespace NfcPipeline.Intake;

/// <summary>
/// Normalises finger folder names to L1..L5 / R1..R5 (2–5 are the fingers NFC examines). Accepted spellings, any case:
/// <c>L2</c>, <c>L-2</c>, <c>L_2</c>, <c>left2</c>, <c>Left 2</c>, <c>left-II</c>, <c>2L</c>, <c>LII</c>, <c>R5</c>, <c>right_V</c>.
/// </summary>
public static partial class FingerNames
{
    [GeneratedRegex(@"^(?<side>l|left|r|right)[\s_\-]*(?<n>[1-5]|i{1,3}|iv|v)$", RegexOptions.IgnoreCase)]
    private static partial Regex SideFirst();

    [GeneratedRegex(@"^(?<n>[1-5])[\s_\-]*(?<side>l|left|r|right)$", RegexOptions.IgnoreCase)]
    private static partial Regex NumberFirst();

    /// <summary>The normalised name, or null when the folder name is not a finger spelling this knows.</summary>
    public static string? Normalise(string folderName)
    {
        var name = folderName.Trim();
        var m = SideFirst().Match(name);
        if (!m.Success) m = NumberFirst().Match(name);
        if (!m.Success) return null;
        char side = char.ToUpperInvariant(m.Groups["side"].Value[0]);
        int n = m.Groups["n"].Value.ToLowerInvariant() switch
        {
            "i" => 1, "ii" => 2, "iii" => 3, "iv" => 4, "v" => 5,
            var digit => digit[0] - '0',
        };
        return $"{side}{n}";
    }
}
