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
