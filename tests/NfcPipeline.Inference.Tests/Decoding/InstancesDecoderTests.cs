using System.Runtime.InteropServices;
using NfcPipeline.Core.Domain;
using NfcPipeline.Inference.Contract;
using NfcPipeline.Inference.Decoding;
using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Tests.Decoding;

/// <summary>The instances/v1 decoder on hand-made tensors: every rule checked against a known answer.</summary>
public class InstancesDecoderTests
{
    private static readonly string[] Classes = ["normal", "blur", "hemo", "abnormal"];
    private static readonly ResizePlan Unscaled = new(64, 48, 64, 48, 64, 64);

    /// <summary>One detection: box (continuous coordinates), score, label, batch index.</summary>
    private sealed record Det(float X1, float Y1, float X2, float Y2, float Score, long Label, long Image = 0);

    private static InstancesOutputs Outputs(IReadOnlyList<Det> dets, bool withBatchIndex = false, int maskSize = 4,
        float[]? mask = null, int inputHeight = 64, int inputWidth = 64)
    {
        int n = dets.Count, plane = maskSize * maskSize;
        var masks = new float[n * plane];
        for (int i = 0; i < n; i++) (mask ?? Enumerable.Repeat(1f, plane).ToArray()).CopyTo(masks, i * plane);
        var keypoints = new float[n * 8 * 3];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 8; k++)
            {
                keypoints[(i * 8 + k) * 3] = dets[i].X1 + k + 0.5f;
                keypoints[(i * 8 + k) * 3 + 1] = dets[i].Y1 + 0.5f;
                keypoints[(i * 8 + k) * 3 + 2] = k - 4;
            }
        return new InstancesOutputs(
            dets.SelectMany(d => new[] { d.X1, d.Y1, d.X2, d.Y2 }).ToArray(), dets.Select(d => d.Score).ToArray(),
            dets.Select(d => d.Label).ToArray(), masks, maskSize, maskSize, keypoints,
            withBatchIndex ? dets.Select(d => d.Image).ToArray() : null, inputHeight, inputWidth);
    }

    private static InstancesDecoder Decoder(InstancesDecoderOptions? options = null, int labelOffset = 1) => new(Classes, labelOffset, options);

    [Fact]
    public void An_roi_mask_is_pasted_into_its_box_exactly_as_torchvision_pastes_it()
    {
        // paste_masks_in_image(mask, [[10.3, 20.6, 30.2, 41.7]], (48, 64)) > 0.5 in torchvision 0.14: 165 pixels,
        // tight box x 15..25, y 21..39.
        float[] roi = [0.1f, 0.9f, 0.9f, 0.1f, 0.2f, 1.0f, 1.0f, 0.2f, 0.0f, 0.8f, 0.6f, 0.0f, 0.0f, 0.7f, 0.3f, 0.0f];
        var outputs = Outputs([new Det(10.3f, 20.6f, 30.2f, 41.7f, 0.9f, 1)], mask: roi);

        var instance = Assert.Single(Decoder().Decode(outputs, 0, Unscaled));

        Assert.Equal(165, instance.Mask.Area);
        Assert.Equal(new BoundingBox(15, 21, 26, 40), instance.Mask.TightBox());
        Assert.Equal(new BoundingBox(10.3f, 20.6f, 30.2f, 41.7f), instance.Box);
        Assert.True(instance.Mask.Contains(20, 30));
        Assert.False(instance.Mask.Contains(12, 30));
    }

    [Fact]
    public void A_box_reaching_into_the_padding_pastes_its_mask_into_the_whole_box_and_clips_the_mask_to_the_image()
    {
        // Rows 48-63 of the 64x64 input are padding. The mask's top half is foreground: over the whole box (y 24-56)
        // that is y 24-40; squeezed into the clipped box (y 24-48) it would end near y 36.
        float[] roi = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        var outputs = Outputs([new Det(10, 24, 30, 56, 0.9f, 1)], mask: roi);

        var instance = Assert.Single(Decoder().Decode(outputs, 0, Unscaled));

        Assert.Equal(new BoundingBox(10, 24, 30, 48), instance.Box);
        var expected = MaskPaster.PasteRoiMask(roi, 4, 4, new BoundingBox(10, 24, 30, 56), 64, 48, 0.5f);
        Assert.Equal(expected.TightBox(), instance.Mask.TightBox());
        Assert.Equal(expected.Area, instance.Mask.Area);
        Assert.True(instance.Mask.Contains(20, 38));
        Assert.False(instance.Mask.Contains(20, 42));
    }

    [Fact]
    public void A_keypoint_off_the_picture_in_the_padding_has_no_confidence_and_one_on_the_edge_keeps_its_own()
    {
        // A loop cut by the right edge of a 64-wide picture (padded to 64 here, further in a real plan): its keypoints at
        // x 58..65 in pixel-index coordinates; those past 63.5 lie off the picture.
        var outputs = Outputs([new Det(57.5f, 20, 63, 30, 0.9f, 1)]);

        var keypoints = Assert.Single(Decoder().Decode(outputs, 0, Unscaled)).Keypoints;

        Assert.Equal((62.5f, 1f / (1f + MathF.Exp(-1f))), (keypoints[5].X, keypoints[5].Confidence));   // on the picture: its sigmoid(1)
        Assert.Equal((63.5f, 1f / (1f + MathF.Exp(-2f))), (keypoints[6].X, keypoints[6].Confidence));   // on its very edge
        Assert.Equal((64.5f, 0f), (keypoints[7].X, keypoints[7].Confidence));
        // Scaled down 2x (128 px wide to the model's 64): the model's edge maps to the picture's, rounding and all.
        var scaled = Assert.Single(Decoder().Decode(Outputs([new Det(57.5f, 20, 63, 30, 0.9f, 1)]), 0, new ResizePlan(128, 96, 64, 48, 64, 64))).Keypoints;
        Assert.Equal(127.5f, scaled[6].X, 4);
        Assert.True(scaled[6].Confidence > 0);
        Assert.Equal(0f, scaled[7].Confidence);
    }

    [Fact]
    public void A_box_far_larger_than_the_image_pastes_a_mask_clipped_to_the_image_at_the_images_cost()
    {
        // An export that does not clip its boxes: the taps were made for every pixel of the box (gigabytes for 1e8 px).
        float[] roi = [.. Enumerable.Repeat(1f, 16)];
        foreach (var box in new[] { new BoundingBox(-1e8f, 0, 1e8f, 10), new BoundingBox(-1e12f, -1e12f, 1e12f, 1e12f) })
        {
            var mask = MaskPaster.PasteRoiMask(roi, 4, 4, box, 64, 48, 0.5f);
            Assert.Equal((0, 64), (mask.Left, mask.Width));
            Assert.True(mask.Area > 0);
        }
        // A box that leaves the image at the bottom: grown by 6/4 about its centre to 5..35 × 16..64, clipped at 48 rows.
        var clipped = MaskPaster.PasteRoiMask(roi, 4, 4, new BoundingBox(10, 24, 30, 56), 64, 48, 0.5f);
        Assert.Equal((5, 16, 31, 32), (clipped.Left, clipped.Top, clipped.Width, clipped.Height));
    }

    [Fact]
    public void A_NaN_keypoint_fails_the_image_instead_of_passing_as_a_keypoint()
    {
        var outputs = Outputs([new Det(0, 0, 10, 10, 0.9f, 1)]);
        outputs.KeypointData[5] = float.NaN;   // keypoint 1's score
        Assert.Contains("NaN", Assert.Throws<InvalidDataException>(() => Decoder().Decode(outputs, 0, Unscaled)).Message);
    }

    [Fact]
    public void A_NaN_in_a_kept_detections_mask_fails_the_image_instead_of_counting_a_loop_without_a_mask()
    {
        var outputs = Outputs([new Det(0, 0, 10, 10, 0.9f, 1)]);
        MemoryMarshal.AsMemory(outputs.MaskData).Span[3] = float.NaN;
        Assert.Contains("mask holds a NaN", Assert.Throws<InvalidDataException>(() => Decoder().Decode(outputs, 0, Unscaled)).Message);
        // A dropped detection's mask is not read.
        var dropped = Outputs([new Det(0, 0, 10, 10, 0.01f, 1)]);
        MemoryMarshal.AsMemory(dropped.MaskData).Span[3] = float.NaN;
        Assert.Empty(Decoder().Decode(dropped, 0, Unscaled));
    }

    [Theory]
    [InlineData(new[] { 0, 1, 0, 0 })]   // a loop's empty output keeps its zero sizes
    [InlineData(new[] { 0 })]            // or has a shape ORT could not infer
    public void No_detections_decode_to_no_instances_whatever_the_empty_masks_sizes(int[] maskShape)
    {
        var outputs = new InstancesOutputs([], [], [], ReadOnlyMemory<float>.Empty, maskShape.Length == 4 ? maskShape[2] : 0, maskShape.Length == 4 ? maskShape[3] : 0,
            [], null, 64, 64);
        Assert.Empty(Decoder().Decode(outputs, 0, Unscaled));
    }

    [Fact]
    public void The_mask_threshold_is_an_option()
    {
        float[] roi = Enumerable.Repeat(0.6f, 16).ToArray();
        var outputs = Outputs([new Det(10, 10, 30, 30, 0.9f, 1)], mask: roi);

        // torchvision: (paste_masks_in_image(0.6 everywhere, [[10, 10, 30, 30]], (48, 64)) > 0.5).sum() == 289
        Assert.Equal(289, Decoder().Decode(outputs, 0, Unscaled).Single().Mask.Area);
        Assert.Equal(0, Decoder(new InstancesDecoderOptions { MaskThreshold = 0.7f }).Decode(outputs, 0, Unscaled).Single().Mask.Area);
    }

    [Fact]
    public void Low_scores_are_dropped_and_the_rest_come_best_first()
    {
        var outputs = Outputs([new Det(0, 0, 10, 10, 0.6f, 1), new Det(20, 0, 30, 10, 0.4f, 1), new Det(40, 0, 50, 10, 0.95f, 2)]);

        var instances = Decoder().Decode(outputs, 0, Unscaled);

        Assert.Equal([0.95f, 0.6f], instances.Select(i => i.Score));
        Assert.Equal(3, Decoder(new InstancesDecoderOptions { ScoreThreshold = 0.3f }).Decode(outputs, 0, Unscaled).Count);
    }

    [Fact]
    public void A_detection_scored_below_one_over_the_class_count_keeps_its_label()
    {
        // Four classes: an even share of 1 - 0.22 (0.26 each) would outweigh the score and rename the detection.
        var outputs = Outputs([new Det(0, 0, 10, 10, 0.22f, 4), new Det(20, 0, 30, 10, 0.22f, 1)]);

        var instances = Decoder(new InstancesDecoderOptions { ScoreThreshold = 0.05f }).Decode(outputs, 0, Unscaled);

        Assert.Equal(["abnormal", "normal"], instances.Select(i => i.ClassName));
        Assert.All(instances, i => Assert.Equal(1f, i.ClassProbabilities.Sum(), 5));
        Assert.All(instances, i => Assert.Equal(0.22f, i.Score));
    }

    [Theory]
    [InlineData(nameof(InstancesDecoderOptions.ScoreThreshold))]
    [InlineData(nameof(InstancesDecoderOptions.MaskThreshold))]
    [InlineData(nameof(InstancesDecoderOptions.NmsIouThreshold))]
    public void NaN_thresholds_are_refused_by_name(string option)
    {
        var bad = option switch
        {
            nameof(InstancesDecoderOptions.ScoreThreshold) => new InstancesDecoderOptions { ScoreThreshold = float.NaN },
            nameof(InstancesDecoderOptions.MaskThreshold) => new InstancesDecoderOptions { MaskThreshold = float.NaN },
            _ => new InstancesDecoderOptions { NmsIouThreshold = float.NaN },
        };
        Assert.Equal(option, Assert.Throws<ArgumentOutOfRangeException>(() => Decoder(bad)).ParamName);
    }

    [Fact]
    public void Nms_suppresses_overlaps_within_a_class_only_and_can_be_turned_off()
    {
        // IoU of the first two boxes is 80/120 = 0.67; the third overlaps as much but is another class.
        var outputs = Outputs([new Det(0, 0, 10, 10, 0.9f, 1), new Det(2, 0, 12, 10, 0.8f, 1), new Det(2, 0, 12, 10, 0.7f, 3)]);

        var instances = Decoder().Decode(outputs, 0, Unscaled);
        Assert.Equal([("normal", 0.9f), ("hemo", 0.7f)], instances.Select(i => (i.ClassName, i.Score)));

        Assert.Equal(3, Decoder(new InstancesDecoderOptions { ApplyNms = false }).Decode(outputs, 0, Unscaled).Count);
        Assert.Equal(3, Decoder(new InstancesDecoderOptions { NmsIouThreshold = 0.7f }).Decode(outputs, 0, Unscaled).Count);
    }

    [Fact]
    public void Labels_map_to_classes_through_the_label_offset_and_background_is_dropped()
    {
        var outputs = Outputs([new Det(0, 0, 10, 10, 0.9f, 0), new Det(20, 0, 30, 10, 0.8f, 4), new Det(40, 0, 50, 10, 0.7f, 3)]);

        var torchvision = Decoder().Decode(outputs, 0, Unscaled);
        Assert.Equal(["abnormal", "hemo"], torchvision.Select(i => i.ClassName));
        Assert.Equal([0.2f / 3, 0.2f / 3, 0.2f / 3, 0.8f], torchvision[0].ClassProbabilities, (a, b) => Math.Abs(a - b) < 1e-6f);

        // Zero-based labels: 0 is the first class.
        var zeroBased = Decoder(labelOffset: 0).Decode(Outputs([new Det(0, 0, 10, 10, 0.9f, 0), new Det(40, 0, 50, 10, 0.7f, 3)]), 0, Unscaled);
        Assert.Equal(["normal", "abnormal"], zeroBased.Select(i => i.ClassName));
    }

    [Fact]
    public void A_confident_label_beyond_the_named_classes_fails_the_image_and_a_doubtful_one_is_dropped()
    {
        // Zero-based labels and four names: label 4 is a class the metadata does not name.
        var confident = Outputs([new Det(0, 0, 10, 10, 0.9f, 0), new Det(20, 0, 30, 10, 0.8f, 4)]);
        var error = Assert.Throws<InvalidDataException>(() => Decoder(labelOffset: 0).Decode(confident, 0, Unscaled));
        Assert.Contains("detection 1 has label 4, beyond nfc.classes (4 names from label 0)", error.Message);

        var doubtful = Outputs([new Det(0, 0, 10, 10, 0.9f, 0), new Det(20, 0, 30, 10, 0.1f, 4)]);
        Assert.Equal(["normal"], Decoder(labelOffset: 0).Decode(doubtful, 0, Unscaled).Select(i => i.ClassName));
    }

    [Fact]
    public void Batch_index_groups_detections_by_image()
    {
        var outputs = Outputs([new Det(0, 0, 10, 10, 0.9f, 1, 1), new Det(20, 0, 30, 10, 0.8f, 2, 0), new Det(40, 0, 50, 10, 0.7f, 3, 1)],
            withBatchIndex: true);
        var decoder = Decoder();

        Assert.Equal(["blur"], decoder.Decode(outputs, 0, Unscaled).Select(i => i.ClassName));
        Assert.Equal(["normal", "hemo"], decoder.Decode(outputs, 1, Unscaled).Select(i => i.ClassName));
        Assert.Empty(decoder.Decode(outputs, 2, Unscaled));
    }

    [Fact]
    public void Boxes_keypoints_and_masks_map_back_to_original_pixels_and_keypoint_scores_become_sigmoids()
    {
        // The original 128×96 image was resized to 64×48: every model pixel is 2×2 original pixels.
        var plan = new ResizePlan(128, 96, 64, 48, 64, 64);
        var outputs = Outputs([new Det(10, 10, 20, 30, 0.9f, 1)], mask: Enumerable.Repeat(1f, 16).ToArray());

        var instance = Assert.Single(Decoder().Decode(outputs, 0, plan));

        Assert.Equal(new BoundingBox(20, 20, 40, 60), instance.Box);
        // Keypoint k sat at continuous (10 + k + 0.5, 10.5): the centre of model pixel (10 + k, 10), which covers
        // original pixels 2(10 + k) and 2(10 + k) + 1, so its centre is 20.5 + 2k in pixel-index coordinates.
        for (int k = 0; k < 8; k++)
        {
            Assert.Equal(20.5f + 2 * k, instance.Keypoints[k].X, 4);
            Assert.Equal(20.5f, instance.Keypoints[k].Y, 4);
            Assert.Equal(1f / (1f + MathF.Exp(4 - k)), instance.Keypoints[k].Confidence, 5);
        }
        Assert.Equal(0.5f, instance[KeypointName.RightLeft].Confidence, 5);
        // An all-ones RoI mask pasted into the original-pixel box covers it (within the pasting's one-pixel growth).
        var tight = instance.Mask.TightBox();
        Assert.InRange(tight.X1, 19, 21); Assert.InRange(tight.X2, 39, 41);
        Assert.InRange(tight.Y1, 19, 21); Assert.InRange(tight.Y2, 59, 61);
    }

    [Fact]
    public void Probability_keypoint_scores_are_kept_as_confidences_and_a_logit_among_them_is_refused()
    {
        var outputs = Outputs([new Det(10, 10, 20, 30, 0.9f, 1)]);
        float[] scores = [-0.0005f, 0f, 0.25f, 0.5f, 0.75f, 1f, 1.0005f, 0.1f];   // rounding just outside [0, 1] included
        for (int k = 0; k < 8; k++) outputs.KeypointData[k * 3 + 2] = scores[k];
        var decoder = new InstancesDecoder(Classes, 1, keypointScore: KeypointScoreKind.Probability);

        var instance = Assert.Single(decoder.Decode(outputs, 0, Unscaled));
        Assert.Equal([0f, 0f, 0.25f, 0.5f, 0.75f, 1f, 1f, 0.1f], instance.Keypoints.Select(k => k.Confidence));

        // A logit where the metadata declared probabilities: clamped, it read as certain.
        outputs.KeypointData[3 * 3 + 2] = 2.5f;
        Assert.Contains("is not a probability", Assert.Throws<InvalidDataException>(() => decoder.Decode(outputs, 0, Unscaled)).Message);
    }

    [Theory]
    [InlineData(float.PositiveInfinity, "is not a probability in [0, 1].")]
    [InlineData(float.NaN, "is not a probability in [0, 1].")]
    [InlineData(3.7f, "exported without its softmax?")]
    [InlineData(-0.5f, "exported without its softmax?")]
    public void A_detection_score_that_is_no_probability_fails_the_image(float score, string says)
    {
        // +Inf passed as a certain detection, NaN dropped one unsaid, a logit met a threshold meant for probabilities.
        var outputs = Outputs([new Det(0, 0, 10, 10, 0.9f, 1), new Det(20, 20, 30, 30, score, 1)]);
        Assert.EndsWith(says, Assert.Throws<InvalidDataException>(() => Decoder().Decode(outputs, 0, Unscaled)).Message);
        // Another image's detections are not this one's to judge.
        var other = Outputs([new Det(0, 0, 10, 10, 0.9f, 1), new Det(20, 20, 30, 30, score, 1, Image: 1)], withBatchIndex: true);
        Assert.Single(Decoder().Decode(other, 0, Unscaled));
    }

    [Fact]
    public void Run_time_shapes_are_judged_and_a_transposed_export_is_refused()
    {
        // All dims dynamic at load: the counts alone passed [N,3,8] keypoints and [4,N] boxes, decoded as garbage.
        long[][] good = [[5, 4], [5], [5], [5, 1, 28, 28], [5, 8, 3]];
        Assert.Null(InstancesOutputs.ShapeProblem(good));
        Assert.Null(InstancesOutputs.ShapeProblem([[0], [0], [0], [0], [0]]));   // no detections: not judged
        Assert.Equal("'keypoints' is [5,3,8], expected [5,8,3]",
            InstancesOutputs.ShapeProblem([good[0], good[1], good[2], good[3], [5, 3, 8]]));
        Assert.Equal("'boxes' is [4,5], expected [5,4]; 'masks' is [5,28,28], expected [5,1,h,w]",
            InstancesOutputs.ShapeProblem([[4, 5], good[1], good[2], [5, 28, 28], good[4]]));
        Assert.Equal("'batch_index' is [4], expected [5]", InstancesOutputs.ShapeProblem([.. good, [4]]));
        Assert.Equal("'scores' is [5,1], expected [N]", InstancesOutputs.ShapeProblem([good[0], [5, 1], good[2], good[3], good[4]]));
    }

    [Fact]
    public void A_mask_of_logits_fails_the_image()
    {
        var outputs = Outputs([new Det(0, 0, 10, 10, 0.9f, 1)], mask: [4f, -3f, 2f, 1f, 4f, -3f, 2f, 1f, 4f, -3f, 2f, 1f, 4f, -3f, 2f, 1f]);
        Assert.Contains("outside [0, 1] (detection 0, value 0): exported without its sigmoid?",
            Assert.Throws<InvalidDataException>(() => Decoder().Decode(outputs, 0, Unscaled)).Message);
    }

    [Fact]
    public void Full_size_masks_are_detected_by_shape_and_read_pixel_for_pixel()
    {
        const int size = 32;
        var plane = new float[size * size];
        for (int y = 5; y < 12; y++)
            for (int x = 7; x < 10; x++) plane[y * size + x] = 0.9f;
        plane[20 * size + 20] = 0.4f;
        var outputs = Outputs([new Det(6, 4, 11, 13, 0.9f, 1)], maskSize: size, mask: plane, inputHeight: size, inputWidth: size);
        Assert.True(outputs.MasksAreFullSize);

        var instance = Assert.Single(Decoder().Decode(outputs, 0, new ResizePlan(30, 30, 30, 30, 32, 32)));

        Assert.Equal(21, instance.Mask.Area);
        Assert.Equal(new BoundingBox(7, 5, 10, 12), instance.Mask.TightBox());
    }

    [Fact]
    public void Malformed_outputs_are_refused_with_the_reason()
    {
        var error = Assert.Throws<InvalidDataException>(() => new InstancesOutputs(
            new float[8], new float[2], new long[1], new float[2 * 16], 4, 4, new float[2 * 24], null, 64, 64));
        Assert.Contains("'labels' holds 1 values for 2 scores", error.Message);
        var outside = Assert.Throws<InvalidDataException>(() => new InstancesOutputs(
            new float[8], new float[2], new long[2], new float[2 * 16], 4, 4, new float[2 * 24], [0, 5], 64, 64, imageCount: 4));
        Assert.Contains("'batch_index' holds 5, outside the run's images 0 to 3", outside.Message);
    }
}
