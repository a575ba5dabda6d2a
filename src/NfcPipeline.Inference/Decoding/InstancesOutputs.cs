namespace NfcPipeline.Inference.Decoding;

/// <summary>
/// The instances/v1 outputs of one run, for every image of the batch: N detections with boxes [N,4], scores [N],
/// labels [N], masks [N,1,h,w] and keypoints [N,8,3], and, for batched exports, the image each belongs to.
/// </summary>
public sealed class InstancesOutputs
{
    public const string Boxes = "boxes", Scores = "scores", Labels = "labels", Masks = "masks", Keypoints = "keypoints",
        BatchIndex = "batch_index";

    public static readonly IReadOnlyList<string> Required = [Boxes, Scores, Labels, Masks, Keypoints];

    /// <param name="inputHeight">Height of the model input tensor: masks this tall (and this wide) are full-size.</param>
    public InstancesOutputs(float[] boxes, float[] scores, long[] labels, ReadOnlyMemory<float> masks, int maskHeight, int maskWidth,
        float[] keypoints, long[]? batchIndex, int inputHeight, int inputWidth, int? imageCount = null)
    {
        int n = scores.Length;
        var problems = new List<string>();
        if (boxes.Length != n * 4) problems.Add($"'{Boxes}' holds {boxes.Length} values for {n} scores, expected [N,4]");
        if (labels.Length != n) problems.Add($"'{Labels}' holds {labels.Length} values for {n} scores");
        // No detections: an export whose masks come from a loop gives [0,…,0] or [0], whose sizes say nothing.
        if (n > 0 ? maskHeight < 1 || maskWidth < 1 || masks.Length != n * maskHeight * maskWidth : masks.Length != 0)
            problems.Add($"'{Masks}' holds {masks.Length} values, expected [{n},1,{maskHeight},{maskWidth}]");
        if (keypoints.Length != n * Core.Domain.KeypointNames.Count * 3)
            problems.Add($"'{Keypoints}' holds {keypoints.Length} values, expected [{n},8,3]");
        if (batchIndex is not null && batchIndex.Length != n) problems.Add($"'{BatchIndex}' holds {batchIndex.Length} values for {n} scores");
        // An index outside the run (counted across a job, say) matched no image, whose detections were then dropped unsaid.
        if (batchIndex is not null && imageCount is { } images && Array.FindIndex(batchIndex, b => b < 0 || b >= images) is var at and >= 0)
            problems.Add($"'{BatchIndex}' holds {batchIndex[at]}, outside the run's images 0 to {images - 1}");
        if (problems.Count > 0) throw new InvalidDataException("The model's instances/v1 outputs are malformed: " + string.Join("; ", problems));
        BoxData = boxes; ScoreData = scores; LabelData = labels; MaskData = masks; MaskHeight = maskHeight; MaskWidth = maskWidth;
        KeypointData = keypoints; BatchIndexData = batchIndex; InputHeight = inputHeight; InputWidth = inputWidth;
    }

    /// <summary>
    /// Why the outputs' run-time shapes (in <see cref="Required"/>'s order, then batch_index) break the contract, or
    /// null. The values' counts alone passed a transposed export ([N,3,8] keypoints, [4,N] boxes) whose load-time dims
    /// were all dynamic. Without detections the shapes are not judged (exports give [0], [0,0,0,0] or the like).
    /// </summary>
    public static string? ShapeProblem(IReadOnlyList<long[]> shapes)
    {
        if (shapes[1] is not [var n]) return $"'{Scores}' is [{string.Join(",", shapes[1])}], expected [N]";
        if (n == 0) return null;
        var problems = new List<string>();
        void Expect(int output, string name, long[] expected, string shown)
        {
            if (!shapes[output].AsSpan().SequenceEqual(expected)) problems.Add($"'{name}' is [{string.Join(",", shapes[output])}], expected {shown}");
        }
        Expect(0, Boxes, [n, 4], $"[{n},4]");
        Expect(2, Labels, [n], $"[{n}]");
        Expect(4, Keypoints, [n, Core.Domain.KeypointNames.Count, 3], $"[{n},8,3]");
        if (shapes[3] is not [var m, 1, _, _] || m != n) problems.Add($"'{Masks}' is [{string.Join(",", shapes[3])}], expected [{n},1,h,w]");
        if (shapes.Count > 5) Expect(5, BatchIndex, [n], $"[{n}]");
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }

    public int Count => ScoreData.Length;
    public float[] BoxData { get; }
    public float[] ScoreData { get; }
    public long[] LabelData { get; }
    /// <summary>The masks, read in place from the run's output where the executor can (full-size ones are N×H×W).</summary>
    public ReadOnlyMemory<float> MaskData { get; }
    public int MaskHeight { get; }
    public int MaskWidth { get; }
    public float[] KeypointData { get; }
    public long[]? BatchIndexData { get; }
    public int InputHeight { get; }
    public int InputWidth { get; }

    /// <summary>Full-size masks ([N,1,H,W], as torchvision's own export pastes them) rather than RoI masks.</summary>
    public bool MasksAreFullSize => MaskHeight == InputHeight && MaskWidth == InputWidth;

    /// <summary>Detection <paramref name="i"/> belongs to image <paramref name="image"/>; without batch_index, all belong to image 0.</summary>
    public bool BelongsTo(int i, int image) => BatchIndexData is null ? image == 0 : BatchIndexData[i] == image;

    public ReadOnlySpan<float> Mask(int i) => MaskData.Span.Slice(i * MaskHeight * MaskWidth, MaskHeight * MaskWidth);
}
