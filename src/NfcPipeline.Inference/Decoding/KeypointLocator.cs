using NfcPipeline.Core.Domain;

namespace NfcPipeline.Inference.Decoding;

/// <summary>
/// Finds an instance's 8 keypoints: for each heatmap, the strongest cell in the instance's mask grown by a margin
/// (edge keypoints lie on the boundary), never in another instance's cells; refined to sub-cell precision.
/// </summary>
internal static class KeypointLocator
{
    /// <summary>Per channel, the second edge of the diameter it starts (D for U, LR for LL, RR for RL), else −1.</summary>
    private static readonly int[] SecondEdge = [1, -1, 3, -1, 5, -1, -1, -1];
    private const int Up = 0, Down = 1, LeftLeft = 2, LeftRight = 3, RightRight = 5, LeftBottom = 6, RightBottom = 7;

    /// <param name="distal">
    /// When given (a unit direction in grid cells), U and D are searched only in the half of the region that lies
    /// furthest along it and LB, RB only in the other half: the loop's orientation is imposed, not read from its own
    /// heatmaps (see <see cref="KeypointOrientation"/>).
    /// </param>
    public static Keypoint[] Locate(DenseOutputs maps, int[] labels, int k, List<int> cells, CellGrid grid, DenseDecoderOptions options,
        (float X, float Y)? distal = null)
    {
        int w = grid.Width, h = grid.Height;
        bool paired = options.PairKeypoints;
        int margin = (int)Math.Ceiling(options.KeypointSearchMargin / grid.Stride);
        int minX = int.MaxValue, minY = int.MaxValue, maxX = -1, maxY = -1;
        foreach (int i in cells)
        {
            minX = Math.Min(minX, i % w); maxX = Math.Max(maxX, i % w);
            minY = Math.Min(minY, i / w); maxY = Math.Max(maxY, i / w);
        }
        minX = Math.Max(0, minX - margin); minY = Math.Max(0, minY - margin);
        maxX = Math.Min(w - 1, maxX + margin); maxY = Math.Min(h - 1, maxY + margin);
        int rw = maxX - minX + 1, rh = maxY - minY + 1;
        var region = Dilate(labels, k, w, minX, minY, rw, rh, margin);
        // The cells every channel may pick from, listed once: the grown region minus other instances' cells.
        // `region` becomes that set as a mask, for the windowed searches near an anchor.
        var candidates = new List<(int Cell, int X, int Y)>(cells.Count * 3);
        for (int y = 0; y < rh; y++)
            for (int x = 0; x < rw; x++)
            {
                if (!region[y * rw + x]) continue;
                int i = (minY + y) * w + minX + x;
                if (labels[i] < 0 || labels[i] == k) candidates.Add((i, minX + x, minY + y));
                else region[y * rw + x] = false;
            }
        var area = new SearchArea(region, minX, minY, rw, rh, w);
        var (apexCandidates, apexArea, baseCandidates) = distal is { } along
            ? SplitAlong(candidates, area, along)
            : (candidates, area, candidates);

        // Both edges of a diameter must come from one cross-section: within a few radii of each other. A limb's second
        // edge is reached in vessel radii (the 90th percentile of the radius samples, about the centreline's half-width);
        // D from U in median radii (see DenseDecoderOptions.ApexPairReachRadii).
        var (median, vessel) = paired ? RadiusCells(maps.RadiusMap.Plane(0), cells, grid.Stride) : (0f, 0f);
        // At least MinPairReachPixels; at most the grid's size, so a huge (finite) radius cannot overflow the search.
        float Reach2(float radii, float radius) => Sq(MathF.Min(MathF.Max(radii * radius, options.MinPairReachPixels / grid.Stride), w + h));
        float limbReach2 = paired ? Reach2(options.LimbPairReachRadii, vessel) : float.PositiveInfinity;
        float apexReach2 = paired ? Reach2(options.ApexPairReachRadii, median) : float.PositiveInfinity;
        var limbPair = new PairRule(limbReach2, 0f, options.LimbPairNearestFraction, grid.Stride);
        var apexPair = new PairRule(apexReach2, Sq(options.ApexMinWidths * 2 * vessel), 0f, grid.Stride);   // vessel 0 unpaired
        var keypoints = new Keypoint[maps.KeypointMap.Channels];
        var located = new bool[keypoints.Length];
        int upCell = -1;
        Sides? sides = null;
        (List<(int Cell, int X, int Y)> Candidates, SearchArea Area) LimbSearch(int c)
        {
            if (!options.LimbSides || upCell < 0 || c is < LeftLeft or > RightRight) return (candidates, area);
            sides ??= SplitSides(candidates, area, cells, upCell % w, upCell / w, w);
            return c <= LeftRight ? (sides.Left, sides.LeftArea) : (sides.Right, sides.RightArea);
        }
        for (int c = 0; c < keypoints.Length; c++)
        {
            if (located[c]) continue;   // found with its partner
            int partner = paired && c < SecondEdge.Length ? SecondEdge[c] : -1;
            if (partner < 0 || partner >= keypoints.Length)
            {
                var heat = maps.KeypointMap.Plane(c);
                var (best, value) = Strongest(heat, c switch
                {
                    Up or Down => apexCandidates,
                    LeftBottom or RightBottom => baseCandidates,
                    _ => LimbSearch(c).Candidates,
                });
                if (c == Up) upCell = best;
                keypoints[c] = Refine(maps, heat, c, best, grid, value, area, options.KeypointVoteRadius);
                continue;
            }
            var limb = LimbSearch(c);
            var (first, second, firstValue, secondValue) = c == Up
                ? BestPair(maps.KeypointMap.Plane(c), maps.KeypointMap.Plane(partner), apexCandidates, apexArea, h, apexPair, options.PairPeakCandidates)
                : BestPair(maps.KeypointMap.Plane(c), maps.KeypointMap.Plane(partner), limb.Candidates, limb.Area, h, limbPair, options.PairPeakCandidates);
            if (c == Up) upCell = first;
            keypoints[c] = Refine(maps, maps.KeypointMap.Plane(c), c, first, grid, firstValue, area, options.KeypointVoteRadius);
            keypoints[partner] = Refine(maps, maps.KeypointMap.Plane(partner), partner, second, grid, secondValue, area, options.KeypointVoteRadius);
            located[partner] = true;
        }
        return keypoints;
    }

    /// <summary>The candidate cells as a mask over the instance's bounding rectangle (grid width <c>W</c>).</summary>
    private readonly record struct SearchArea(bool[] Allowed, int MinX, int MinY, int Width, int Height, int W)
    {
        public bool Contains(int x, int y) =>
            x >= MinX && y >= MinY && x < MinX + Width && y < MinY + Height && Allowed[(y - MinY) * Width + x - MinX];
    }

    /// <summary>The candidates at or beyond the middle of their extent along <paramref name="along"/> (as a list and as an area), and those at or before it.</summary>
    private static (List<(int Cell, int X, int Y)> Apex, SearchArea ApexArea, List<(int Cell, int X, int Y)> Base) SplitAlong(
        List<(int Cell, int X, int Y)> candidates, SearchArea area, (float X, float Y) along)
    {
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (var c in candidates)
        {
            float p = c.X * along.X + c.Y * along.Y;
            lo = MathF.Min(lo, p); hi = MathF.Max(hi, p);
        }
        float middle = lo + 0.5f * (hi - lo);
        var apex = new List<(int Cell, int X, int Y)>();
        var baseSide = new List<(int Cell, int X, int Y)>();
        var allowed = new bool[area.Allowed.Length];
        foreach (var c in candidates)
        {
            float p = c.X * along.X + c.Y * along.Y;
            if (p >= middle)
            {
                apex.Add(c);
                allowed[(c.Y - area.MinY) * area.Width + c.X - area.MinX] = true;
            }
            if (p <= middle) baseSide.Add(c);
        }
        return (apex, area with { Allowed = allowed }, baseSide);
    }

    private sealed record Sides(List<(int Cell, int X, int Y)> Left, SearchArea LeftArea, List<(int Cell, int X, int Y)> Right, SearchArea RightArea);

    /// <summary>
    /// The candidates left and right of the line from the instance's centroid to U (the loop viewed apex-up; a
    /// candidate on the line is on both sides). Without a direction (U at the centroid) or with an empty side, both
    /// sides are everything.
    /// </summary>
    private static Sides SplitSides(List<(int Cell, int X, int Y)> candidates, SearchArea area, List<int> cells, int ux, int uy, int w)
    {
        double cx = 0, cy = 0;
        foreach (int i in cells) { cx += i % w; cy += i / w; }
        cx /= cells.Count; cy /= cells.Count;
        double ax = ux - cx, ay = uy - cy, length = Math.Sqrt(ax * ax + ay * ay);
        if (length <= 1e-6) return new Sides(candidates, area, candidates, area);
        ax /= length; ay /= length;
        var left = new List<(int Cell, int X, int Y)>();
        var right = new List<(int Cell, int X, int Y)>();
        bool[] leftAllowed = new bool[area.Allowed.Length], rightAllowed = new bool[area.Allowed.Length];
        foreach (var c in candidates)
        {
            double side = (c.X - cx) * ay - (c.Y - cy) * ax;   // > 0: left of the loop viewed apex-up
            int at = (c.Y - area.MinY) * area.Width + c.X - area.MinX;
            if (side >= 0) { left.Add(c); leftAllowed[at] = true; }
            if (side <= 0) { right.Add(c); rightAllowed[at] = true; }
        }
        // The line runs through the centroid, so both sides hold cells; only rounding on a one-cell-wide line can empty one.
        if (left.Count == 0 || right.Count == 0) return new Sides(candidates, area, candidates, area);
        return new Sides(left, area with { Allowed = leftAllowed }, right, area with { Allowed = rightAllowed });
    }

    private static (int Cell, float Value) Strongest(ReadOnlySpan<float> heat, List<(int Cell, int X, int Y)> candidates)
    {
        int best = -1;
        float bestValue = float.NegativeInfinity;
        foreach (var candidate in candidates)
            if (heat[candidate.Cell] > bestValue) { bestValue = heat[candidate.Cell]; best = candidate.Cell; }
        return (best, bestValue);
    }

    /// <summary>
    /// How a diameter's second edge is chosen: within <c>Reach2</c> (cells²) of the first, and at least <c>Min2</c> away
    /// when any candidate is; with a fraction, the nearest cell that is that strong relative to the strongest.
    /// </summary>
    private readonly record struct PairRule(float Reach2, float Min2, float NearestFraction, int Stride);

    /// <summary>
    /// The second edge for a first edge at (ax, ay): the strongest candidate within reach (and beyond the rule's minimum
    /// distance, unless none is), or with a nearest fraction the nearest candidate reaching that fraction of it (ties:
    /// the stronger, then the first in row order). Only the square around (ax, ay) is scanned, in row order as the full
    /// list; <paramref name="inReach"/> is scratch space that keeps the cells within reach for the nearest search.
    /// </summary>
    private static (int Cell, float Value) PartnerNear(ReadOnlySpan<float> heat, SearchArea area, int ax, int ay, PairRule rule,
        List<(int Cell, int Distance2)> inReach)
    {
        int r = (int)MathF.Floor(MathF.Sqrt(rule.Reach2));
        int x0 = Math.Max(area.MinX, ax - r), x1 = Math.Min(area.MinX + area.Width - 1, ax + r);
        int y0 = Math.Max(area.MinY, ay - r), y1 = Math.Min(area.MinY + area.Height - 1, ay + r);
        int best = -1, far = -1;
        float bestValue = float.NegativeInfinity, farValue = float.NegativeInfinity;
        inReach.Clear();
        for (int y = y0; y <= y1; y++)
        {
            int row = (y - area.MinY) * area.Width - area.MinX;
            for (int x = x0; x <= x1; x++)
            {
                int d2 = (x - ax) * (x - ax) + (y - ay) * (y - ay);
                if (!area.Allowed[row + x] || d2 > rule.Reach2) continue;
                int i = y * area.W + x;
                inReach.Add((i, d2));
                if (heat[i] > bestValue) { bestValue = heat[i]; best = i; }
                if (d2 >= rule.Min2 && heat[i] > farValue) { farValue = heat[i]; far = i; }
            }
        }
        if (far >= 0) (best, bestValue) = (far, farValue);
        if (best < 0 || rule.NearestFraction <= 0 || !(bestValue > 0)) return (best, bestValue);
        // Distances in input pixels², less a thousandth of the heat: cell distances differ by at least stride², so
        // the heat only breaks ties (as ops/model/decode.py).
        float floor = rule.NearestFraction * bestValue;
        int nearest = best;
        double nearestKey = double.PositiveInfinity;
        foreach (var (i, d2) in inReach)
        {
            if (!(heat[i] >= floor)) continue;
            double key = (double)rule.Stride * rule.Stride * d2 - 1e-3 * heat[i];
            if (key < nearestKey) { nearestKey = key; nearest = i; }
        }
        return (nearest, heat[nearest]);
    }

    /// <summary>
    /// Both edges of one diameter, chosen together: of the first channel's strongest local peaks, the one whose best
    /// partner within reach gives the highest product of the two confidences. Taking the first edge's global maximum
    /// alone let a stray peak (a giant loop's U heatmap peaks weakly at the wrong end) drag its partner with it.
    /// </summary>
    private static (int First, int Second, float FirstValue, float SecondValue) BestPair(ReadOnlySpan<float> firstHeat,
        ReadOnlySpan<float> secondHeat, List<(int Cell, int X, int Y)> candidates, SearchArea area, int h, PairRule rule, int peakCount)
    {
        var peaks = new List<(int Cell, int X, int Y)>(peakCount + 1);
        (int Cell, int X, int Y) globalBest = (-1, 0, 0);
        float globalValue = float.NegativeInfinity;
        foreach (var candidate in candidates)
        {
            float v = firstHeat[candidate.Cell];
            if (v > globalValue) { globalValue = v; globalBest = candidate; }
            // A cell no stronger than the weakest of a full list cannot enter it: skip the neighbourhood test.
            if (peaks.Count == peakCount && v <= firstHeat[peaks[^1].Cell]) continue;
            if (DenseDecoder.IsLocalMax(firstHeat, h, area.W, candidate.X, candidate.Y, v)) Insert(peaks, candidate, firstHeat, peakCount);
        }
        if (globalBest.Cell >= 0 && !peaks.Contains(globalBest)) Insert(peaks, globalBest, firstHeat, peakCount + 1);

        (int First, int Second, float FirstValue, float SecondValue) result = (-1, -1, float.NegativeInfinity, float.NegativeInfinity);
        float bestScore = float.NegativeInfinity;
        var inReach = new List<(int Cell, int Distance2)>();
        foreach (var peak in peaks)
        {
            var (partner, value) = PartnerNear(secondHeat, area, peak.X, peak.Y, rule, inReach);
            if (partner < 0) continue;
            float score = MathF.Max(firstHeat[peak.Cell], 0) * MathF.Max(value, 0);
            if (score > bestScore || result.First < 0)
            {
                bestScore = score;
                result = (peak.Cell, partner, firstHeat[peak.Cell], value);
            }
        }
        return result;
    }

    /// <summary>Keeps <paramref name="peaks"/> as the strongest <paramref name="limit"/> cells, strongest first.</summary>
    private static void Insert(List<(int Cell, int X, int Y)> peaks, (int Cell, int X, int Y) cell, ReadOnlySpan<float> heat, int limit)
    {
        int at = peaks.Count;
        while (at > 0 && heat[peaks[at - 1].Cell] < heat[cell.Cell]) at--;
        if (at >= limit) return;
        peaks.Insert(at, cell);
        if (peaks.Count > limit) peaks.RemoveAt(peaks.Count - 1);
    }

    /// <summary>
    /// The instance's median radius and its vessel radius (the 90th percentile, interpolated as numpy's default), in
    /// cells.
    /// </summary>
    internal static (float Median, float Vessel) RadiusCells(ReadOnlySpan<float> radius, List<int> cells, int stride)
    {
        if (cells.Count == 0) return (0, 0);
        var values = new float[cells.Count];
        for (int i = 0; i < values.Length; i++) values[i] = radius[cells[i]];
        Array.Sort(values);
        double at = 0.9 * (values.Length - 1);
        int lo = (int)Math.Floor(at), hi = Math.Min(lo + 1, values.Length - 1);
        float p90 = (float)(values[lo] + (at - lo) * (values[hi] - values[lo]));
        int m = values.Length / 2;
        float median = values.Length % 2 == 1 ? values[m] : (values[m - 1] + values[m]) / 2;   // as numpy's median
        return (median / stride, p90 / stride);
    }

    private static float Sq(float v) => v * v;

    /// <summary>
    /// The keypoint at sub-cell precision. With offsets: the heatmap-weighted mean of the votes (cell centre plus offset)
    /// of the region's cells within <paramref name="voteRadius"/> of the peak; each vote carries its own regression
    /// error, so their mean is steadier than the peak's vote alone. Without offsets: a parabola through the peak.
    /// </summary>
    private static Keypoint Refine(DenseOutputs maps, ReadOnlySpan<float> heat, int channel, int cell, CellGrid grid, float confidence,
        SearchArea area, int voteRadius)
    {
        int w = grid.Width, cx = cell % w, cy = cell / w;
        float x = grid.CellCentre(cx), y = grid.CellCentre(cy);
        if (maps.KeypointOffsetMap is { } offsets)
        {
            ReadOnlySpan<float> ox = offsets.Plane(2 * channel), oy = offsets.Plane(2 * channel + 1);
            double sum = 0, sx = 0, sy = 0;
            for (int ny = Math.Max(cy - voteRadius, 0); ny <= Math.Min(cy + voteRadius, grid.Height - 1); ny++)
                for (int nx = Math.Max(cx - voteRadius, 0); nx <= Math.Min(cx + voteRadius, w - 1); nx++)
                {
                    int i = ny * w + nx;
                    float weight = heat[i];
                    if (!(weight > 0) || i != cell && !area.Contains(nx, ny)) continue;
                    sum += weight;
                    sx += weight * (grid.CellCentre(nx) + ox[i]);
                    sy += weight * (grid.CellCentre(ny) + oy[i]);
                }
            if (sum > 0) { x = (float)(sx / sum); y = (float)(sy / sum); }
            else { x += ox[cell]; y += oy[cell]; }
        }
        else
        {
            if (cx > 0 && cx < w - 1) x += Parabola(heat[cell - 1], heat[cell], heat[cell + 1]) * grid.Stride;
            if (cy > 0 && cy < grid.Height - 1) y += Parabola(heat[cell - w], heat[cell], heat[cell + w]) * grid.Stride;
        }
        return grid.ToOriginal(x, y, Math.Clamp(confidence, 0f, 1f));
    }

    /// <summary>Vertex of the parabola through three samples at −1, 0, 1, clamped to half a cell.</summary>
    private static float Parabola(float left, float centre, float right)
    {
        float denominator = left - 2 * centre + right;
        return denominator >= 0 ? 0 : Math.Clamp(0.5f * (left - right) / denominator, -0.5f, 0.5f);
    }

    /// <summary>The instance's cells within the region, grown by a square of the given radius (separable max filter).</summary>
    private static bool[] Dilate(int[] labels, int k, int w, int x0, int y0, int rw, int rh, int radius)
    {
        var rows = new bool[rw * rh];
        for (int y = 0; y < rh; y++)
        {
            int last = -radius - 1;
            // Forward and backward sweeps mark cells within `radius` of an instance cell along x.
            for (int x = 0; x < rw; x++)
            {
                if (labels[(y0 + y) * w + x0 + x] == k) last = x;
                if (x - last <= radius) rows[y * rw + x] = true;
            }
            last = rw + radius + 1;
            for (int x = rw - 1; x >= 0; x--)
            {
                if (labels[(y0 + y) * w + x0 + x] == k) last = x;
                if (last - x <= radius) rows[y * rw + x] = true;
            }
        }
        var result = new bool[rw * rh];
        for (int x = 0; x < rw; x++)
        {
            int last = -radius - 1;
            for (int y = 0; y < rh; y++)
            {
                if (rows[y * rw + x]) last = y;
                if (y - last <= radius) result[y * rw + x] = true;
            }
            last = rh + radius + 1;
            for (int y = rh - 1; y >= 0; y--)
            {
                if (rows[y * rw + x]) last = y;
                if (last - y <= radius) result[y * rw + x] = true;
            }
        }
        return result;
    }
}
