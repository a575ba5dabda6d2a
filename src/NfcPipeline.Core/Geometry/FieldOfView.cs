namespace NfcPipeline.Core.Geometry;

/// <summary>
/// The imaged area as a convex polygon in image pixels. Normally the image rectangle; a rotated rectangle
/// describes a field whose content was rotated, so the row line is clipped to what the camera really saw.
/// </summary>
public sealed class FieldOfView
{
    private readonly Point2[] _corners;

    public FieldOfView(IReadOnlyList<Point2> corners)
    {
        if (corners.Count < 3) throw new ArgumentException("A field of view needs at least 3 corners.", nameof(corners));
        _corners = [.. corners];
        if (_corners.Any(c => !double.IsFinite(c.X) || !double.IsFinite(c.Y)))
            throw new ArgumentException("A field of view's corners must be finite.", nameof(corners));
        double area2 = SignedDoubleArea(_corners);
        if (Math.Abs(area2) < 1e-9) throw new ArgumentException("The field of view has no area.", nameof(corners));
        if (area2 < 0) Array.Reverse(_corners);
        // The row line is clipped edge by edge (Cyrus–Beck), which holds for a convex polygon only.
        if (!IsConvex(_corners)) throw new ArgumentException("A field of view must be a convex polygon.", nameof(corners));
    }

    /// <summary>Every turn of the (counter-clockwise) outline is to the left, or straight on.</summary>
    private static bool IsConvex(Point2[] corners)
    {
        for (int i = 0; i < corners.Length; i++)
        {
            Point2 a = corners[i], b = corners[(i + 1) % corners.Length], c = corners[(i + 2) % corners.Length];
            double cross = (b.X - a.X) * (c.Y - b.Y) - (b.Y - a.Y) * (c.X - b.X);
            if (cross < -1e-9 * Math.Max(1, (b - a).Length * (c - b).Length)) return false;
        }
        return true;
    }

    public IReadOnlyList<Point2> Corners => _corners;

    /// <summary>The frame of a width × height image: pixel edges from (0, 0) to (width, height).</summary>
    public static FieldOfView Rectangle(double width, double height)
    {
        if (!(width > 0) || !(height > 0)) throw new ArgumentOutOfRangeException(nameof(width), "Image width and height must be positive.");
        return new FieldOfView([new(0, 0), new(width, 0), new(width, height), new(0, height)]);
    }

    /// <summary>This field turned by <paramref name="degrees"/> about <paramref name="centre"/>.</summary>
    public FieldOfView Rotated(double degrees, Point2 centre) =>
        new(_corners.Select(c => Rotate(c, degrees, centre)).ToArray());

    public static Point2 Rotate(Point2 p, double degrees, Point2 centre)
    {
        double a = degrees * Math.PI / 180, cos = Math.Cos(a), sin = Math.Sin(a);
        Point2 d = p - centre;
        return new Point2(centre.X + d.X * cos - d.Y * sin, centre.Y + d.X * sin + d.Y * cos);
    }

    /// <summary>
    /// The chord of the infinite line through <paramref name="point"/> along <paramref name="direction"/> inside
    /// this convex polygon (Cyrus–Beck), or null when the line misses it.
    /// </summary>
    public (Point2 Start, Point2 End)? ClipLine(Point2 point, Point2 direction)
    {
        Point2 d = direction.Normalized();
        if (d == default) return null;
        double tMin = double.NegativeInfinity, tMax = double.PositiveInfinity;
        for (int i = 0; i < _corners.Length; i++)
        {
            Point2 a = _corners[i], b = _corners[(i + 1) % _corners.Length];
            Point2 edge = b - a;
            // Counter-clockwise corners: inside is to the left of every edge, where edge × (p − a) ≥ 0.
            double numerator = edge.Cross(point - a);
            double denominator = edge.Cross(d);
            if (Math.Abs(denominator) < 1e-12)
            {
                if (numerator < 0) return null;
                continue;
            }
            double t = -numerator / denominator;
            if (denominator > 0) tMin = Math.Max(tMin, t);
            else tMax = Math.Min(tMax, t);
        }
        if (tMin > tMax || double.IsInfinity(tMin) || double.IsInfinity(tMax)) return null;
        return (point + d * tMin, point + d * tMax);
    }

    private static double SignedDoubleArea(Point2[] corners)
    {
        double sum = 0;
        for (int i = 0; i < corners.Length; i++)
            sum += corners[i].Cross(corners[(i + 1) % corners.Length]);
        return sum;
    }
}
