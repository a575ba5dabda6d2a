using NfcPipeline.Core.Domain;
using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Decoding;

/// <summary>The output grid of one image and its exact relation to original pixels.</summary>
internal sealed class CellGrid
{
    private readonly ResizePlan _plan;
    private readonly int[] _cellOfColumn;
    private readonly int[] _cellOfRow;

    public CellGrid(ResizePlan plan, int stride, int height, int width)
    {
        _plan = plan; Stride = stride; Height = height; Width = width;
        // Original pixel x lands at model x' = (x + 0.5) / ScaleX − 0.5, which lies in cell ⌊(x' + 0.5) / stride⌋.
        _cellOfColumn = Enumerable.Range(0, plan.OriginalWidth)
            .Select(x => Math.Min(width - 1, (int)Math.Floor((x + 0.5) / plan.ScaleX / stride))).ToArray();
        _cellOfRow = Enumerable.Range(0, plan.OriginalHeight)
            .Select(y => Math.Min(height - 1, (int)Math.Floor((y + 0.5) / plan.ScaleY / stride))).ToArray();
    }

    public int Stride { get; }
    public int Height { get; }
    public int Width { get; }

    public float CellCentre(int index) => (index + 0.5f) * Stride - 0.5f;

    public Keypoint ToOriginal(float modelX, float modelY, float confidence)
    {
        double x = _plan.ToOriginalX(modelX), y = _plan.ToOriginalY(modelY);
        // Off the picture (the last, partial cell's centre, or offsets voting into the padding): not a place measured.
        return new Keypoint((float)x, (float)y, _plan.IsOnPicture(x, y) ? confidence : 0f);
    }

    /// <summary>The instance's cells upsampled to original pixels (nearest cell), as a crop around them.</summary>
    public InstanceMask MaskInOriginalPixels(int[] labels, int k, List<int> cells)
    {
        int minCx = int.MaxValue, minCy = int.MaxValue, maxCx = -1, maxCy = -1;
        foreach (int i in cells)
        {
            int cx = i % Width, cy = i / Width;
            minCx = Math.Min(minCx, cx); maxCx = Math.Max(maxCx, cx);
            minCy = Math.Min(minCy, cy); maxCy = Math.Max(maxCy, cy);
        }
        var (x0, x1) = PixelRange(_cellOfColumn, minCx, maxCx);
        var (y0, y1) = PixelRange(_cellOfRow, minCy, maxCy);
        if (x1 < x0 || y1 < y0) return new InstanceMask(0, 0, 0, 0, []);
        int mw = x1 - x0 + 1, mh = y1 - y0 + 1;
        var bits = new bool[mw * mh];
        for (int y = y0; y <= y1; y++)
        {
            var row = bits.AsSpan((y - y0) * mw, mw);
            // Consecutive pixel rows in one cell row are equal (stride rows per cell): copy instead of sampling again.
            if (y > y0 && _cellOfRow[y] == _cellOfRow[y - 1])
            {
                bits.AsSpan((y - y0 - 1) * mw, mw).CopyTo(row);
                continue;
            }
            int rowBase = _cellOfRow[y] * Width;
            for (int x = x0; x <= x1; x++)
                row[x - x0] = labels[rowBase + _cellOfColumn[x]] == k;
        }
        return new InstanceMask(x0, y0, mw, mh, bits);
    }

    /// <summary>The first and last original pixel whose cell lies in [lo, hi]; the map is monotonic.</summary>
    private static (int First, int Last) PixelRange(int[] cellOfPixel, int lo, int hi)
    {
        int first = Array.FindIndex(cellOfPixel, c => c >= lo);
        if (first < 0) return (0, -1);
        int last = Array.FindLastIndex(cellOfPixel, c => c <= hi);
        return (first, last);
    }
}
