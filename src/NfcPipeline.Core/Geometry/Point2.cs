namespace NfcPipeline.Core.Geometry;

/// <summary>A point or vector in image pixels, in double precision so that projections stay exact enough.</summary>
public readonly record struct Point2(double X, double Y)
{
    public static Point2 operator +(Point2 a, Point2 b) => new(a.X + b.X, a.Y + b.Y);
    public static Point2 operator -(Point2 a, Point2 b) => new(a.X - b.X, a.Y - b.Y);
    public static Point2 operator *(Point2 a, double s) => new(a.X * s, a.Y * s);
    public static Point2 operator -(Point2 a) => new(-a.X, -a.Y);

    public double Length => Math.Sqrt(X * X + Y * Y);
    public double Dot(Point2 other) => X * other.X + Y * other.Y;
    public double Cross(Point2 other) => X * other.Y - Y * other.X;

    /// <summary>The vector turned 90° (x, y) → (−y, x).</summary>
    public Point2 Perpendicular => new(-Y, X);

    public Point2 Normalized()
    {
        double length = Length;
        return length > 0 ? new Point2(X / length, Y / length) : default;
    }

    /// <summary>
    /// The coordinates only: the record's own ToString printed every property, and <see cref="Perpendicular"/> is a
    /// Point2 whose own Perpendicular is one too, so formatting a point recursed until the stack overflowed.
    /// </summary>
    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"({X:0.###}, {Y:0.###})");

    public static double Distance(Point2 a, Point2 b) => (a - b).Length;
    public static Point2 Midpoint(Point2 a, Point2 b) => new((a.X + b.X) / 2, (a.Y + b.Y) / 2);
}
