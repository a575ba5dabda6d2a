namespace NfcPipeline.Core.Domain;

/// <summary>The clinical categories that model class names map onto (configurable per model).</summary>
public enum ClinicalCategory
{
    /// <summary>Hairpin, tortuous and crossing shapes.</summary>
    Normal,
    /// <summary>Ramified, bushy and bizarre shapes.</summary>
    Abnormal,
    Hemorrhage,
    /// <summary>Blurred or otherwise unreadable.</summary>
    Ungradable,
}

public static class ClinicalCategoryExtensions
{
    /// <summary>Normal and Abnormal: real loops, the capillaries that carry diameters and morphology flags.</summary>
    public static bool IsLoop(this ClinicalCategory category) => category is ClinicalCategory.Normal or ClinicalCategory.Abnormal;
}
