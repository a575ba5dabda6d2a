namespace NfcPipeline.Core.Domain;

/// <summary>
/// A binary instance mask in original image pixels, stored as a crop: <see cref="Bits"/> covers the
/// <see cref="Width"/> × <see cref="Height"/> rectangle whose top-left pixel is (<see cref="Left"/>, <see cref="Top"/>).
/// A crop keeps thousands of instances per study cheap, where full-frame masks would not be.
/// </summary>
public sealed class InstanceMask
{
    private readonly bool[] _bits;

    public InstanceMask(int left, int top, int width, int height, bool[] bits)
    {
        if (width < 0 || height < 0) throw new ArgumentOutOfRangeException(nameof(width), "Mask size must be non-negative.");
        if (bits.Length != (long)width * height) throw new ArgumentException($"Expected {(long)width * height} mask bits, got {bits.Length}.", nameof(bits));
        Left = left; Top = top; Width = width; Height = height; _bits = bits;
        Area = bits.AsSpan().Count(true);   // vectorised; masks are counted for every decoded instance
    }

    public int Left { get; }
    public int Top { get; }
    public int Width { get; }
    public int Height { get; }
    /// <summary>Number of foreground pixels.</summary>
    public int Area { get; }
    public ReadOnlySpan<bool> Bits => _bits;

    /// <summary>True when image pixel (x, y) is foreground.</summary>
    public bool Contains(int x, int y)
    {
        int cx = x - Left, cy = y - Top;
        return cx >= 0 && cy >= 0 && cx < Width && cy < Height && _bits[cy * Width + cx];
    }

    public int IntersectionArea(InstanceMask other)
    {
        int x0 = Math.Max(Left, other.Left), y0 = Math.Max(Top, other.Top);
        int x1 = Math.Min(Left + Width, other.Left + other.Width), y1 = Math.Min(Top + Height, other.Top + other.Height);
        int n = 0;
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
                if (Contains(x, y) && other.Contains(x, y)) n++;
        return n;
    }

    public double IntersectionOverUnion(InstanceMask other)
    {
        int inter = IntersectionArea(other);
        int union = Area + other.Area - inter;
        return union == 0 ? 0 : (double)inter / union;
    }

    /// <summary>The tight box around the foreground, or an empty box when there is none.</summary>
    public BoundingBox TightBox()
    {
        int minX = int.MaxValue, minY = int.MaxValue, maxX = -1, maxY = -1;
        for (int y = 0; y < Height; y++)
            for (int x = 0; x < Width; x++)
            {
                if (!_bits[y * Width + x]) continue;
                minX = Math.Min(minX, x); maxX = Math.Max(maxX, x);
                minY = Math.Min(minY, y); maxY = Math.Max(maxY, y);
            }
        return maxX < 0 ? default : new BoundingBox(Left + minX, Top + minY, Left + maxX + 1, Top + maxY + 1);
    }
}
