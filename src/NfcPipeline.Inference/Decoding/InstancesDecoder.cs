using NfcPipeline.Core.Domain;
using NfcPipeline.Inference.Contract;
using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Decoding;

/// <summary>
/// Turns instances/v1 detections (Mask R-CNN family) into capillary instances in original image pixels: score
/// threshold, label → class, optional per-class NMS, mask pasting, and the inverse resize map. The rules, and why
/// class probabilities and keypoint confidences are what they are, are in docs/model-contract.md.
/// </summary>
public sealed class InstancesDecoder
{
    private readonly IReadOnlyList<string> _classNames;
    private readonly int _labelOffset;
    private readonly InstancesDecoderOptions _options;
    private readonly KeypointScoreKind _keypointScore;

    public InstancesDecoder(IReadOnlyList<string> classNames, int labelOffset, InstancesDecoderOptions? options = null,
        KeypointScoreKind keypointScore = KeypointScoreKind.Logit)
    {
        _keypointScore = keypointScore;
        if (classNames.Count == 0) throw new ArgumentException("At least one class is needed.", nameof(classNames));
        _options = options ?? new InstancesDecoderOptions();
        _options.Validate();
        _classNames = classNames;
        _labelOffset = labelOffset;
    }

    /// <summary>The instances of batch item <paramref name="imageIndex"/>, highest score first.</summary>
    public IReadOnlyList<CapillaryInstance> Decode(InstancesOutputs outputs, int imageIndex, ResizePlan plan)
    {
        var kept = Select(outputs, imageIndex, plan);
        var instances = new List<CapillaryInstance>(kept.Count);
        foreach (var d in kept)
        {
            // Compared with the threshold, NaN is never inside: the loop would count with an empty mask. A mask exported
            // without its sigmoid (logits) passes the threshold elsewhere: another outline, measured as this one.
            var maskData = outputs.Mask(d.Index);
            if (DenseOutputs.FirstOutsideProbability(maskData) is { } bad)
                throw new InvalidDataException(float.IsFinite(maskData[bad])
                    ? $"The model's mask holds {maskData[bad]}, outside [0, 1] (detection {d.Index}, value {bad}): exported without its sigmoid?"
                    : $"The model's mask holds a NaN or infinite value (detection {d.Index}, value {bad}).");
            var box = ToOriginal(d.Box, plan);
            // The RoI mask describes the box the model gave, padding and all; the paste clips it to the image.
            var mask = outputs.MasksAreFullSize
                ? MaskPaster.SampleFullMask(outputs.Mask(d.Index), outputs.MaskHeight, outputs.MaskWidth, plan, _options.MaskThreshold)
                : MaskPaster.PasteRoiMask(outputs.Mask(d.Index), outputs.MaskHeight, outputs.MaskWidth, ToOriginal(d.ModelBox, plan),
                    plan.OriginalWidth, plan.OriginalHeight, _options.MaskThreshold);
            instances.Add(new CapillaryInstance
            {
                Mask = mask,
                Box = box,
                ClassNames = _classNames,
                ClassProbabilities = ClassProbabilities(d.ClassIndex, d.Score),
                Score = d.Score,
                Keypoints = Keypoints(outputs.KeypointData, d.Index, plan, _keypointScore),
            });
        }
        return instances;
    }

    /// <summary><see cref="Box"/> is clipped to the resized image; <see cref="ModelBox"/> is as the model gave it.</summary>
    private readonly record struct Detection(int Index, BoundingBox Box, BoundingBox ModelBox, float Score, int ClassIndex);

    /// <summary>Detections of one image that pass the score threshold and map to a class, after NMS, best first.</summary>
    private List<Detection> Select(InstancesOutputs outputs, int imageIndex, ResizePlan plan)
    {
        var candidates = new List<Detection>();
        var b = outputs.BoxData;
        for (int i = 0; i < outputs.Count; i++)
        {
            float score = outputs.ScoreData[i];
            long classIndex = outputs.LabelData[i] - _labelOffset;
            if (!outputs.BelongsTo(i, imageIndex)) continue;
            // A score is a probability: +Inf passed the threshold as a certain detection, NaN dropped one unsaid, and
            // logits (an export without its softmax) met a threshold meant for probabilities.
            if (!DenseOutputs.IsProbability(score))
                throw new InvalidDataException($"The model's detection score {score} (detection {i}) is not a probability in [0, 1]" +
                    (float.IsFinite(score) ? ": exported without its softmax?" : "."));
            if (!(score >= _options.ScoreThreshold) || classIndex < 0)
                continue;
            // Below the offset is background; beyond the names is a class the metadata does not know, whose loops
            // were dropped unsaid and the counts made short.
            if (classIndex >= _classNames.Count)
                throw new InvalidDataException($"The model's detection {i} has label {outputs.LabelData[i]}, beyond nfc.classes " +
                    $"({_classNames.Count} names from label {_labelOffset}): its metadata names fewer classes than it detects.");
            // Clip to the resized image: the padding the pipeline added is not part of the picture.
            var modelBox = new BoundingBox(b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]);
            var box = new BoundingBox(
                Math.Clamp(modelBox.X1, 0, plan.ResizedWidth), Math.Clamp(modelBox.Y1, 0, plan.ResizedHeight),
                Math.Clamp(modelBox.X2, 0, plan.ResizedWidth), Math.Clamp(modelBox.Y2, 0, plan.ResizedHeight));
            if (!float.IsFinite(modelBox.X1 + modelBox.Y1 + modelBox.X2 + modelBox.Y2) || box.Area <= 0) continue;
            candidates.Add(new Detection(i, box, modelBox, MathF.Min(score, 1f), (int)classIndex));
        }
        // Stable: equal scores keep the model's order.
        var ordered = candidates.OrderByDescending(d => d.Score).ToList();
        var kept = new List<Detection>();
        foreach (var d in ordered)
        {
            if (_options.ApplyNms && kept.Any(k => k.ClassIndex == d.ClassIndex && k.Box.IntersectionOverUnion(d.Box) > _options.NmsIouThreshold))
                continue;
            kept.Add(d);
            if (kept.Count == _options.MaxInstances) break;
        }
        return kept;
    }

    /// <summary>Box edges are continuous coordinates, so they scale without the half-pixel shift of pixel centres.</summary>
    private static BoundingBox ToOriginal(BoundingBox box, ResizePlan plan) => new(
        (float)(box.X1 * plan.ScaleX), (float)(box.Y1 * plan.ScaleY), (float)(box.X2 * plan.ScaleX), (float)(box.Y2 * plan.ScaleY));

    /// <summary>
    /// The score on the detected class and the rest shared evenly, so the probabilities sum to 1. Below 1/K the even
    /// share would outweigh the score and the argmax name another class: then the detected class gets the share
    /// too, plus a hair, so the label stands and the sum stays 1.
    /// </summary>
    private float[] ClassProbabilities(int classIndex, float score)
    {
        int k = _classNames.Count;
        var probabilities = new float[k];
        if (k == 1) { probabilities[0] = 1f; return probabilities; }
        float rest = (1f - score) / (k - 1);
        if (score <= rest)
        {
            const float hair = 1e-4f;
            Array.Fill(probabilities, (1f - hair) / k);
            probabilities[classIndex] += hair;
            return probabilities;
        }
        Array.Fill(probabilities, rest);
        probabilities[classIndex] = score;
        return probabilities;
    }

    /// <summary>
    /// Keypoints come in continuous coordinates (pixel k's centre at k + 0.5) and go out in pixel-index coordinates.
    /// A logit score (torchvision's heatmap maximum) becomes its sigmoid; a probability (detectron2's spatial
    /// softmax) must be one (within rounding, then clamped to [0, 1]): a logit declared a probability is refused.
    /// </summary>
    private static Keypoint[] Keypoints(float[] data, int index, ResizePlan plan, KeypointScoreKind scoreKind)
    {
        var keypoints = new Keypoint[KeypointNames.Count];
        for (int k = 0; k < keypoints.Length; k++)
        {
            int o = (index * KeypointNames.Count + k) * 3;
            if (!float.IsFinite(data[o]) || !float.IsFinite(data[o + 1]) || !float.IsFinite(data[o + 2]))
                throw new InvalidDataException($"The model's keypoints hold a NaN or infinite value (detection {index}, keypoint {k}).");
            if (scoreKind == KeypointScoreKind.Probability && !DenseOutputs.IsProbability(data[o + 2]))
                throw new InvalidDataException($"The model's keypoint score {data[o + 2]} (detection {index}, keypoint {k}) is not a probability, " +
                    "as nfc.keypoint_score declares: a logit? (declare nfc.keypoint_score logit)");
            double x = plan.ToOriginalX(data[o] - 0.5), y = plan.ToOriginalY(data[o + 1] - 0.5);
            float score = scoreKind == KeypointScoreKind.Logit ? 1f / (1f + MathF.Exp(-data[o + 2])) : Math.Clamp(data[o + 2], 0f, 1f);
            // Off the picture (in the padding to the right or below, where a loop cut by the frame can put one): not a
            // place measured, so not confident, as the frame-cut apex rule would have it.
            if (!plan.IsOnPicture(x, y)) score = 0f;
            keypoints[k] = new Keypoint((float)x, (float)y, score);
        }
        return keypoints;
    }
}
