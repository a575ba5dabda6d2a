using NfcPipeline.Core.Domain;
using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Decoding;

/// <summary>
/// Turns dense/v1 maps into capillary instances, bottom-up (as Panoptic-DeepLab and CenterNet): centre peaks start
/// instances, foreground cells join the centre their offset votes for, and each instance's keypoints are the heatmap
/// peaks in and around its mask. No NMS is needed. See docs/model-contract.md.
/// </summary>
public sealed class DenseDecoder
{
    private readonly DenseDecoderOptions _options;
    private readonly IReadOnlyList<string> _classNames;
    private readonly int _stride;

    public DenseDecoder(IReadOnlyList<string> classNames, int stride, DenseDecoderOptions? options = null)
    {
        _options = options ?? new DenseDecoderOptions();
        _options.Validate();
        _classNames = classNames;
        _stride = stride;
    }

    /// <param name="brightness">The field's brightness, from the model input: orients the loops of a field whose own
    /// directions cancel out (<see cref="DenseDecoderOptions.OrientByBrightness"/>). Optional.</param>
    /// <param name="tensorSize">The input tensor's height and width when the image was padded beyond its plan's padded
    /// size (a shape bucket); the plan's padded size otherwise.</param>
    public IReadOnlyList<CapillaryInstance> Decode(DenseOutputs maps, ResizePlan plan, FieldBrightness? brightness = null,
        (int Height, int Width)? tensorSize = null)
    {
        int h = maps.Height, w = maps.Width;
        var (tensorHeight, tensorWidth) = tensorSize ?? (plan.PaddedHeight, plan.PaddedWidth);
        // A network that floors (an input not a multiple of its stride) leaves the last partial cell out: fewer
        // cells than that, and the grid is not this input's at the declared stride.
        if (h < plan.ResizedHeight / _stride || w < plan.ResizedWidth / _stride)
            throw new InvalidDataException($"Output grid {w}×{h} at stride {_stride} does not cover the {plan.ResizedWidth}×{plan.ResizedHeight} input.");
        // A grid larger than the input tensor at this stride: the model's real stride is finer than its metadata says,
        // and every position would come out scaled (a cell of slack for rounding).
        if ((h - 1) * _stride >= tensorHeight || (w - 1) * _stride >= tensorWidth)
            throw new InvalidDataException($"Output grid {w}×{h} is larger than the {tensorWidth}×{tensorHeight} input at the declared " +
                $"stride {_stride}: the model's outputs are at a finer stride than its nfc.stride says.");
        // Cells over the padding see no image: left in, they would join loops at the edge, lend them keypoints outside
        // the image and count in their area and scores. Only the cells that see the resized image are decoded.
        // An axis the network floored has fewer cells than see the image, and keeps them all.
        int seenH = Math.Min(h, (plan.ResizedHeight + _stride - 1) / _stride), seenW = Math.Min(w, (plan.ResizedWidth + _stride - 1) / _stride);
        if (seenH < h || seenW < w) { maps = maps.Cropped(seenH, seenW); h = seenH; w = seenW; }

        var centres = FindCentres(maps.CenterMap.Plane(0), h, w);
        if (centres.Count == 0) return [];
        var labels = Group(maps, centres, h, w);
        var cellsByInstance = CellsByInstance(labels, centres.Count);
        var grid = new CellGrid(plan, _stride, h, w);

        var kept = new List<(int K, InstanceMask Mask)>(centres.Count);
        var keypoints = new List<Keypoint[]>(centres.Count);
        for (int k = 0; k < centres.Count; k++)
        {
            var cells = cellsByInstance[k];
            if (cells.Count * _stride * _stride < _options.MinInstanceArea) continue;
            var mask = grid.MaskInOriginalPixels(labels, k, cells);
            if (mask.Area == 0) continue;
            kept.Add((k, mask));
            keypoints.Add(KeypointLocator.Locate(maps, labels, k, cells, grid, _options));
        }
        if (_options.OrientByConsensus) Reorient(maps, labels, cellsByInstance, grid, plan, kept, keypoints, brightness);

        var instances = new List<CapillaryInstance>(kept.Count);
        for (int n = 0; n < kept.Count; n++)
        {
            var (k, mask) = kept[n];
            var cells = cellsByInstance[k];
            instances.Add(new CapillaryInstance
            {
                Mask = mask,
                Box = mask.TightBox(),
                ClassNames = _classNames,
                ClassProbabilities = ClassProbabilities(maps.ClassLogitMap, cells),
                Score = maps.CenterMap.Plane(0)[centres[k].Cell] * Mean(maps.CapillaryMap.Plane(0), cells),
                Keypoints = keypoints[n],
                RadiusSamples = RadiusSamples(maps.RadiusMap.Plane(0), labels, k, cells, w, (float)((plan.ScaleX + plan.ScaleY) / 2)),
            });
        }
        return instances;
    }

    /// <summary>
    /// Loops whose base → apex direction goes against the field's consensus get their apex (and base) searched again
    /// on the side the consensus points to; the new keypoints stand when the new U is confident enough.
    /// </summary>
    private void Reorient(DenseOutputs maps, int[] labels, List<int>[] cellsByInstance, CellGrid grid, ResizePlan plan,
        List<(int K, InstanceMask Mask)> kept, List<Keypoint[]> keypoints, FieldBrightness? brightness)
    {
        if (KeypointOrientation.Consensus(keypoints, _options, brightness) is not { } consensus) return;
        var inCells = KeypointOrientation.InCells(consensus, plan.ScaleX, plan.ScaleY);
        for (int n = 0; n < kept.Count; n++)
        {
            if (!KeypointOrientation.Disagrees(keypoints[n], consensus, _options)) continue;
            int k = kept[n].K;
            var again = KeypointLocator.Locate(maps, labels, k, cellsByInstance[k], grid, _options, inCells);
            if (again[0].Confidence >= _options.OrientationMinApexConfidence) keypoints[n] = again;
        }
    }

    private readonly record struct Centre(int Cell, float X, float Y, float Value);

    private List<Centre> FindCentres(ReadOnlySpan<float> heat, int h, int w)
    {
        var peaks = new List<Centre>();
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                float v = heat[y * w + x];
                if (v < _options.CenterThreshold || !IsLocalMax(heat, h, w, x, y, v)) continue;
                peaks.Add(new Centre(y * w + x, CellCentre(x), CellCentre(y), v));
            }
        // Strongest first; equal peaks (common in a quantized model's map) in grid order, as decode.py's stable sort,
        // since List.Sort alone is unstable and the order decides which of two equal neighbours survives.
        peaks.Sort((a, b) => b.Value != a.Value ? b.Value.CompareTo(a.Value) : a.Cell.CompareTo(b.Cell));
        var kept = new List<Centre>();
        float r2 = _options.CenterNmsRadius * _options.CenterNmsRadius;
        foreach (var p in peaks)
        {
            if (kept.Any(k => Sq(k.X - p.X) + Sq(k.Y - p.Y) <= r2)) continue;
            kept.Add(p);
            if (kept.Count == _options.MaxInstances) break;
        }
        return kept;
    }

    /// <summary>No 8-neighbour of cell (x, y) in the h×w grid is stronger than <paramref name="v"/>.</summary>
    internal static bool IsLocalMax(ReadOnlySpan<float> heat, int h, int w, int x, int y, float v)
    {
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
            {
                int nx = x + dx, ny = y + dy;
                if ((dx | dy) != 0 && nx >= 0 && ny >= 0 && nx < w && ny < h && heat[ny * w + nx] > v) return false;
            }
        return true;
    }

    /// <summary>Label per cell: the index of the centre it belongs to, or −1.</summary>
    private int[] Group(DenseOutputs maps, List<Centre> centres, int h, int w)
    {
        var labels = new int[h * w];
        Array.Fill(labels, -1);
        var prob = maps.CapillaryMap.Plane(0);
        var dxs = maps.OffsetMap.Plane(0);
        var dys = maps.OffsetMap.Plane(1);
        float reach = _options.MaxGroupDistance, maxD2 = reach * reach;
        // Centres bucketed in squares at least the grouping distance wide (linked lists in flat arrays): a vote only
        // needs the 3×3 squares around it. Never narrower than a cell: a sub-pixel distance made billions of squares.
        // Centres lie inside the grid, votes may land anywhere.
        float side = MathF.Max(reach, _stride);
        int bw = (int)MathF.Ceiling(w * _stride / side) + 1, bh = (int)MathF.Ceiling(h * _stride / side) + 1;
        var head = new int[bw * bh];
        Array.Fill(head, -1);
        var next = new int[centres.Count];
        for (int k = centres.Count - 1; k >= 0; k--)
        {
            int b = Math.Clamp((int)MathF.Floor(centres[k].Y / side), 0, bh - 1) * bw + Math.Clamp((int)MathF.Floor(centres[k].X / side), 0, bw - 1);
            next[k] = head[b];
            head[b] = k;
        }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = y * w + x;
                if (prob[i] < _options.MaskThreshold) continue;
                float vx = CellCentre(x) + dxs[i], vy = CellCentre(y) + dys[i];
                int bx = (int)MathF.Floor(vx / side), by = (int)MathF.Floor(vy / side);
                int best = -1; float bestD2 = maxD2;
                for (int oy = Math.Max(by - 1, 0); oy <= Math.Min(by + 1, bh - 1); oy++)
                    for (int ox = Math.Max(bx - 1, 0); ox <= Math.Min(bx + 1, bw - 1); ox++)
                        for (int k = head[oy * bw + ox]; k >= 0; k = next[k])
                        {
                            float d2 = Sq(centres[k].X - vx) + Sq(centres[k].Y - vy);
                            // Ties go to the lower index, so the result does not depend on bucket order; a vote exactly
                            // MaxGroupDistance away still counts (only farther ones are dropped).
                            if (d2 < bestD2 || d2 == bestD2 && (best < 0 || k < best)) { bestD2 = d2; best = k; }
                        }
                labels[i] = best;
            }
        return labels;
    }

    /// <summary>Each instance's cells, in one pass over the grid.</summary>
    private static List<int>[] CellsByInstance(int[] labels, int count)
    {
        var cells = new List<int>[count];
        for (int k = 0; k < count; k++) cells[k] = [];
        for (int i = 0; i < labels.Length; i++) if (labels[i] >= 0) cells[labels[i]].Add(i);
        return cells;
    }

    private float[] ClassProbabilities(OutputMap logits, List<int> cells)
    {
        var mean = new double[logits.Channels];
        for (int c = 0; c < logits.Channels; c++)
        {
            var plane = logits.Plane(c);
            double sum = 0;
            foreach (int i in cells) sum += plane[i];
            mean[c] = sum / cells.Count;
        }
        double max = mean.Max(), total = mean.Sum(m => Math.Exp(m - max));
        return mean.Select(m => (float)(Math.Exp(m - max) / total)).ToArray();
    }

    private static float Mean(ReadOnlySpan<float> plane, List<int> cells)
    {
        double sum = 0;
        foreach (int i in cells) sum += plane[i];
        return (float)(sum / cells.Count);
    }

    /// <summary>Radius on the vessel's centreline: cells whose radius no 4-neighbour of the instance exceeds.</summary>
    private static float[] RadiusSamples(ReadOnlySpan<float> radius, int[] labels, int k, List<int> cells, int w, float scale)
    {
        var samples = new List<float>();
        foreach (int i in cells)
        {
            float r = radius[i];
            if (r <= 0) continue;
            bool ridgeX = NotAbove(radius, labels, k, i - 1, r, i % w > 0) && NotAbove(radius, labels, k, i + 1, r, i % w < w - 1);
            bool ridgeY = NotAbove(radius, labels, k, i - w, r, i >= w) && NotAbove(radius, labels, k, i + w, r, i + w < labels.Length);
            if (ridgeX && ridgeY) samples.Add(r * scale);
        }
        return samples.ToArray();
    }

    private static bool NotAbove(ReadOnlySpan<float> radius, int[] labels, int k, int j, float r, bool inside) =>
        !inside || labels[j] != k || radius[j] <= r;

    private float CellCentre(int index) => (index + 0.5f) * _stride - 0.5f;
    private static float Sq(float v) => v * v;
}
