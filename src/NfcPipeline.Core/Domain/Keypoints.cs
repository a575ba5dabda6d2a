namespace NfcPipeline.Core.Domain;

/// <summary>The 8 capillary keypoints, in ANFC / NFCMTL order. The numeric value is the model's channel index.</summary>
public enum KeypointName
{
    /// <summary>Outer edge of the apex.</summary>
    Up = 0,
    /// <summary>Inner edge of the apex; |U−D| is the apical diameter.</summary>
    Down = 1,
    LeftLeft = 2,
    LeftRight = 3,
    RightLeft = 4,
    RightRight = 5,
    LeftBottom = 6,
    RightBottom = 7,
}

/// <summary>A keypoint in original image pixels, with the model's confidence in [0, 1].</summary>
public readonly record struct Keypoint(float X, float Y, float Confidence)
{
    public static float Distance(Keypoint a, Keypoint b)
    {
        float dx = a.X - b.X, dy = a.Y - b.Y;
        return MathF.Sqrt(dx * dx + dy * dy);
    }
}

public static class KeypointNames
{
    public const int Count = 8;

    /// <summary>The names used in model metadata and ground-truth files, in channel order.</summary>
    public static readonly IReadOnlyList<string> Canonical =
        ["up", "down", "left-left", "left-right", "right-left", "right-right", "left-bottom", "right-bottom"];
}
