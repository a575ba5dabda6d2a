namespace NfcPipeline.Core.Domain;

/// <summary>An axis-aligned box in original image pixels; X2 and Y2 are exclusive.</summary>
public readonly record struct BoundingBox(float X1, float Y1, float X2, float Y2)
{
    public float Width => MathF.Max(0, X2 - X1);
    public float Height => MathF.Max(0, Y2 - Y1);
    public float Area => Width * Height;

    public float IntersectionOverUnion(BoundingBox other)
    {
        float ix = MathF.Max(0, MathF.Min(X2, other.X2) - MathF.Max(X1, other.X1));
        float iy = MathF.Max(0, MathF.Min(Y2, other.Y2) - MathF.Max(Y1, other.Y1));
        float inter = ix * iy;
        float union = Area + other.Area - inter;
        return union <= 0 ? 0 : inter / union;
    }
}
