namespace NfcPipeline.Core.Evaluation;

/// <summary>
/// Fills polygons with the even-odd rule, sampling each pixel at its centre (x + 0.5, y + 0.5), the convention
/// pycocotools approximates: the square [0,10]×[0,10] covers exactly 100 pixels. Several polygons are united.
/// </summary>
public static class PolygonRasterizer
{
    /// <summary>Row-major foreground bits of a height × width image.</summary>
    public static bool[] Rasterize(IEnumerable<double[]> polygons, int width, int height)
    {
        var bits = new bool[width * height];
        var crossings = new List<double>();
        foreach (double[] polygon in polygons)
        {
            if (polygon.Length < 6 || polygon.Length % 2 != 0) continue;
            int n = polygon.Length / 2;
            double minY = double.MaxValue, maxY = double.MinValue;
            for (int i = 0; i < n; i++) { minY = Math.Min(minY, polygon[2 * i + 1]); maxY = Math.Max(maxY, polygon[2 * i + 1]); }
            int rowStart = Math.Max(0, (int)Math.Floor(minY - 0.5)), rowEnd = Math.Min(height - 1, (int)Math.Ceiling(maxY));
            for (int row = rowStart; row <= rowEnd; row++)
            {
                double yc = row + 0.5;
                crossings.Clear();
                for (int i = 0; i < n; i++)
                {
                    double x0 = polygon[2 * i], y0 = polygon[2 * i + 1];
                    double x1 = polygon[2 * ((i + 1) % n)], y1 = polygon[2 * ((i + 1) % n) + 1];
                    // Half-open in y, so a vertex on the scanline is counted once.
                    if ((y0 <= yc && yc < y1) || (y1 <= yc && yc < y0))
                        crossings.Add(x0 + (yc - y0) * (x1 - x0) / (y1 - y0));
                }
                crossings.Sort();
                for (int k = 0; k + 1 < crossings.Count; k += 2)
                {
                    int from = Math.Max(0, (int)Math.Ceiling(crossings[k] - 0.5));
                    int to = Math.Min(width - 1, (int)Math.Ceiling(crossings[k + 1] - 0.5) - 1);
                    for (int x = from; x <= to; x++) bits[row * width + x] = true;
                }
            }
        }
        return bits;
    }
}
