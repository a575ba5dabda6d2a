using System.Numerics;
using System.Runtime.InteropServices;

namespace NfcPipeline.Inference.Decoding;

/// <summary>One batch item's [C, H, W] slice of a dense output tensor.</summary>
public readonly record struct OutputMap(ReadOnlyMemory<float> Data, int Channels, int Height, int Width)
{
    public ReadOnlySpan<float> Plane(int channel) => Data.Span.Slice(channel * Height * Width, Height * Width);
}

/// <summary>A named model output for a whole batch: row-major data and its shape.</summary>
public readonly record struct NamedTensor(string Name, ReadOnlyMemory<float> Data, long[] Shape);

/// <summary>The dense/v1 output maps of one image, checked against each other and the contract.</summary>
public sealed class DenseOutputs
{
    public const string Capillary = "capillary", Center = "center", Offset = "offset", Keypoints = "keypoints",
        KeypointOffset = "keypoint_offset", Radius = "radius", ClassLogits = "class_logits";

    private DenseOutputs() { }

    public OutputMap CapillaryMap { get; private init; }
    public OutputMap CenterMap { get; private init; }
    public OutputMap OffsetMap { get; private init; }
    public OutputMap KeypointMap { get; private init; }
    public OutputMap? KeypointOffsetMap { get; private init; }
    public OutputMap RadiusMap { get; private init; }
    public OutputMap ClassLogitMap { get; private init; }
    public int Height => CapillaryMap.Height;
    public int Width => CapillaryMap.Width;

    /// <summary>Slices batch item <paramref name="batchIndex"/> out of the model's outputs.</summary>
    public static DenseOutputs ForBatchItem(IReadOnlyList<NamedTensor> outputs, int batchIndex, int classCount, int keypointCount = 8)
    {
        var byName = outputs.ToDictionary(o => o.Name, StringComparer.Ordinal);
        var problems = new List<string>();
        int? h = null, w = null;
        OutputMap Take(string name, int channels, bool optional = false, bool probability = false)
        {
            if (!byName.TryGetValue(name, out var t))
            {
                if (!optional) problems.Add($"output '{name}' is missing");
                return default;
            }
            if (t.Shape.Length != 4 || t.Shape[1] != channels)
            {
                problems.Add($"output '{name}' must be [N,{channels},H,W], got [{string.Join(",", t.Shape)}]");
                return default;
            }
            if (batchIndex >= t.Shape[0]) { problems.Add($"output '{name}' has batch {t.Shape[0]}, item {batchIndex} requested"); return default; }
            int oh = (int)t.Shape[2], ow = (int)t.Shape[3];
            h ??= oh; w ??= ow;
            if (oh != h || ow != w) problems.Add($"output '{name}' is {oh}×{ow} cells; other outputs are {h}×{w}");
            int itemLength = channels * oh * ow;
            if (t.Data.Length < (batchIndex + 1) * itemLength) { problems.Add($"output '{name}' holds too little data for its shape"); return default; }
            var map = new OutputMap(t.Data.Slice(batchIndex * itemLength, itemLength), channels, oh, ow);
            // NaN compares false with every threshold, so it would pass for foreground and peaks; infinities poison
            // the positions. A model that emits them for this input is broken for it: the image fails, saying so.
            // In one pass, also for a probability map exported without its sigmoid: its logits pass every other check,
            // and its thresholds and peaks then find other masks and keypoints (measurements of another picture).
            var (low, high) = probability ? (-ProbabilityTolerance, 1 + ProbabilityTolerance) : (-float.MaxValue, float.MaxValue);
            if (FirstOutside(map.Data.Span, low, high) is { } bad)
            {
                string where = $"channel {bad / (oh * ow)}, cell {bad % ow},{bad % (oh * ow) / ow}";
                problems.Add(float.IsFinite(map.Data.Span[bad])
                    ? $"output '{name}' holds {map.Data.Span[bad]}, outside [0, 1] ({where}): a probability map, exported without its sigmoid?"
                    : $"output '{name}' holds a NaN or infinite value ({where})");
            }
            return map;
        }

        var result = new DenseOutputs
        {
            CapillaryMap = Take(Capillary, 1, probability: true), CenterMap = Take(Center, 1, probability: true), OffsetMap = Take(Offset, 2),
            KeypointMap = Take(Keypoints, keypointCount, probability: true), RadiusMap = Take(Radius, 1), ClassLogitMap = Take(ClassLogits, classCount),
            KeypointOffsetMap = byName.ContainsKey(KeypointOffset) ? Take(KeypointOffset, 2 * keypointCount, optional: true) : null,
        };
        if (problems.Count > 0) throw new InvalidDataException("The model's dense/v1 outputs are malformed: " + string.Join("; ", problems));
        return result;
    }

    /// <summary>
    /// A copy holding only the top-left <paramref name="height"/> × <paramref name="width"/> cells of every map: the
    /// cells that see the image, without those over the padding to the tensor's size.
    /// </summary>
    public DenseOutputs Cropped(int height, int width)
    {
        if (height > Height || width > Width) throw new ArgumentOutOfRangeException(nameof(height), $"{width}×{height} exceeds the {Width}×{Height} grid.");
        OutputMap Crop(OutputMap map)
        {
            var data = new float[map.Channels * height * width];
            var source = map.Data.Span;
            for (int c = 0; c < map.Channels; c++)
                for (int y = 0; y < height; y++)
                    source.Slice((c * map.Height + y) * map.Width, width).CopyTo(data.AsSpan((c * height + y) * width, width));
            return new OutputMap(data, map.Channels, height, width);
        }
        return new DenseOutputs
        {
            CapillaryMap = Crop(CapillaryMap), CenterMap = Crop(CenterMap), OffsetMap = Crop(OffsetMap), KeypointMap = Crop(KeypointMap),
            KeypointOffsetMap = KeypointOffsetMap is { } k ? Crop(k) : null, RadiusMap = Crop(RadiusMap), ClassLogitMap = Crop(ClassLogitMap),
        };
    }

    /// <summary>The index of the first NaN or infinite value, or null; vectorised, about a millisecond per field.</summary>
    internal static int? FirstNonFinite(ReadOnlySpan<float> data) => FirstOutside(data, -float.MaxValue, float.MaxValue);

    /// <summary>The index of the first value outside [0, 1] (within the rounding tolerance) or NaN, or null.</summary>
    internal static int? FirstOutsideProbability(ReadOnlySpan<float> data) => FirstOutside(data, -ProbabilityTolerance, 1 + ProbabilityTolerance);

    /// <summary>Whether one value is a probability, within the rounding tolerance (NaN is not).</summary>
    internal static bool IsProbability(float value) => value >= -ProbabilityTolerance && value <= 1 + ProbabilityTolerance;

    /// <summary>Rounding in a float16 or int8 model's probabilities stays within this of [0, 1].</summary>
    private const float ProbabilityTolerance = 1e-3f;

    /// <summary>The index of the first value below <paramref name="low"/>, above <paramref name="high"/> or NaN; null when none is.</summary>
    private static int? FirstOutside(ReadOnlySpan<float> data, float low, float high)
    {
        Vector<float> lows = new(low), highs = new(high);
        int i = 0;
        var vectors = MemoryMarshal.Cast<float, Vector<float>>(data);
        // NaN fails both comparisons, so its vector stops the fast pass too.
        for (int v = 0; v < vectors.Length; v++, i += Vector<float>.Count)
            if (!Vector.GreaterThanOrEqualAll(vectors[v], lows) || !Vector.LessThanOrEqualAll(vectors[v], highs)) break;
        for (; i < data.Length; i++)
            if (!(data[i] >= low && data[i] <= high)) return i;
        return null;
    }
}
