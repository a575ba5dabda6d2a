using System.Text.Json;
using NfcPipeline.Core.Domain;
using NfcPipeline.Imaging;
using NfcPipeline.Inference.Batching;
using NfcPipeline.Inference.Contract;
using NfcPipeline.Inference.Engine;
using NfcPipeline.Inference.Preprocessing;
using Xunit.Abstractions;

namespace NfcPipeline.Inference.Tests.Engine;

/// <summary>
/// The instances/v1 path end to end through ONNX Runtime on the tiny Mask R-CNN fixture, against the outputs PyTorch
/// recorded for the same weights and image (ops/model/export_maskrcnn.py --tiny).
/// </summary>
public class InstancesAnalyzerTests(ITestOutputHelper output)
{
    private static readonly string FixtureDirectory = Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx");
    private static readonly string[] Classes = ["normal", "blur", "hemo", "abnormal"];

    private static InferenceOptions Options(string fixture = "instances_tiny") =>
        new() { ModelPath = Path.Combine(FixtureDirectory, fixture + ".onnx"), IntraOpThreads = 1 };

    private sealed record Reference(BoundingBox Box, float Score, int Label, float[][] Keypoints, InstanceMask Mask);

    private static (RgbImage Image, List<Reference> Detections) LoadReference(string fixture = "instances_tiny")
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureDirectory, fixture + ".pytorch.json")));
        var root = json.RootElement;
        var meta = root.GetProperty("image");
        int width = meta.GetProperty("width").GetInt32(), height = meta.GetProperty("height").GetInt32();
        var pixels = File.ReadAllBytes(Path.Combine(FixtureDirectory, meta.GetProperty("rgb_file").GetString()!));
        var detections = root.GetProperty("detections").EnumerateArray().Select(d =>
        {
            var box = d.GetProperty("box").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            return new Reference(
                new BoundingBox(box[0], box[1], box[2], box[3]), d.GetProperty("score").GetSingle(), d.GetProperty("label").GetInt32(),
                d.GetProperty("keypoints").EnumerateArray().Select(k => k.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray(),
                DecodeRuns(d.GetProperty("mask_rle").EnumerateArray().Select(v => v.GetInt32()), width, height));
        }).ToList();
        return (new RgbImage(width, height, pixels, ImageFormat.Png), detections);
    }

    /// <summary>Row-major runs over the whole image, alternating, starting with background.</summary>
    private static InstanceMask DecodeRuns(IEnumerable<int> runs, int width, int height)
    {
        var bits = new bool[width * height];
        int at = 0; bool value = false;
        foreach (int run in runs)
        {
            if (value) Array.Fill(bits, true, at, run);
            at += run; value = !value;
        }
        return new InstanceMask(0, 0, width, height, bits);
    }

    [Fact]
    public void The_fixture_loads_as_a_batch_1_instances_model()
    {
        using var model = LoadedModel.Load(Options());

        Assert.Equal(ContractKind.InstancesV1, model.Contract.Kind);
        Assert.Equal(Classes, model.Contract.ClassNames);
        Assert.Equal(1, model.Contract.LabelOffset);
        Assert.Equal(KeypointScoreKind.Logit, model.Contract.KeypointScore);
        Assert.False(model.AcceptsBatches);
    }

    [Fact]
    public void An_instances_model_without_a_required_output_is_refused()
    {
        var options = new InferenceOptions { ModelPath = Path.Combine(FixtureDirectory, "instances_no_masks.onnx") };
        var error = Assert.Throws<ModelContractException>(() => LoadedModel.Load(options));
        Assert.Contains(error.Problems, p => p.StartsWith("instances/v1 output 'masks' is missing"));
    }

    /// <summary>instances_tiny gives 28×28 RoI masks; instances_tiny_fullmasks pastes them to [N,1,H,W] in the graph.</summary>
    [Theory]
    [InlineData("instances_tiny")]
    [InlineData("instances_tiny_fullmasks")]
    public async Task Onnx_runtime_detections_match_pytorch_boxes_masks_classes_and_keypoints(string fixture)
    {
        var (image, reference) = LoadReference(fixture);
        Assert.NotEmpty(reference);
        using var model = LoadedModel.Load(Options(fixture));
        await using var analyzer = new ImageAnalyzer(model, Options(fixture), new DynamicBatcherOptions());

        var instances = (await analyzer.AnalyzeAsync(image)).Instances;

        Assert.Equal(reference.Count, instances.Count);
        double minMaskIou = 1, maxBoxDiff = 0, maxKeypointDiff = 0;
        for (int i = 0; i < reference.Count; i++)
        {
            var (expected, actual) = (reference[i], instances[i]);
            maxBoxDiff = new[] { actual.Box.X1 - expected.Box.X1, actual.Box.Y1 - expected.Box.Y1, actual.Box.X2 - expected.Box.X2, actual.Box.Y2 - expected.Box.Y2 }
                .Select(MathF.Abs).Append((float)maxBoxDiff).Max();
            minMaskIou = Math.Min(minMaskIou, actual.Mask.IntersectionOverUnion(expected.Mask));
            Assert.Equal(expected.Score, actual.Score, 4);
            Assert.Equal(Classes[expected.Label - 1], actual.ClassName);
            for (int k = 0; k < KeypointNames.Count; k++)
            {
                // PyTorch's keypoints are continuous coordinates; ours are pixel indices (0.5 less) on an unresized image.
                maxKeypointDiff = Math.Max(maxKeypointDiff, Math.Max(
                    Math.Abs(actual.Keypoints[k].X - (expected.Keypoints[k][0] - 0.5)), Math.Abs(actual.Keypoints[k].Y - (expected.Keypoints[k][1] - 0.5))));
                Assert.Equal(1 / (1 + Math.Exp(-expected.Keypoints[k][2])), actual.Keypoints[k].Confidence, 3);
            }
        }
        output.WriteLine($"{fixture}: {reference.Count} detections: max box difference {maxBoxDiff:G3} px, min mask IoU {minMaskIou:F4}, max keypoint difference {maxKeypointDiff:G3} px");
        Assert.True(maxBoxDiff <= 1e-3, $"max box difference {maxBoxDiff}");
        Assert.True(minMaskIou >= 0.99, $"min mask IoU {minMaskIou}");
        Assert.True(maxKeypointDiff <= 1e-2, $"max keypoint difference {maxKeypointDiff}");
    }

    [Fact]
    public async Task A_batch_1_export_runs_one_image_per_batch_with_several_runs_in_flight()
    {
        var (image, reference) = LoadReference();
        using var model = LoadedModel.Load(Options());
        await using var analyzer = new ImageAnalyzer(model, Options(),
            new DynamicBatcherOptions { MaxBatchSize = 8, MaxConcurrentBatches = 3, PreferredBatchSizes = [4] });

        Assert.Equal(1, analyzer.Batching.MaxBatchSize);
        Assert.Equal(3, analyzer.Batching.MaxConcurrentBatches);
        Assert.Empty(analyzer.Batching.PreferredBatchSizes);

        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => analyzer.AnalyzeAsync(image)));

        var statistics = analyzer.Statistics;
        Assert.Equal(6, statistics.BatchesExecuted);
        Assert.Equal(1.0, statistics.MeanBatchSize);
        Assert.All(results, r => Assert.Equal(
            reference.Select(d => d.Box.X1.ToString("F2")), r.Instances.Select(i => i.Box.X1.ToString("F2"))));
    }

    /// <summary>instances_batched: per image, detection A moves with the image's red level, B is fixed; all As come first.</summary>
    [Fact]
    public async Task A_batched_export_runs_several_images_per_run_and_batch_index_sends_each_detection_home()
    {
        var options = new InferenceOptions { ModelPath = Path.Combine(FixtureDirectory, "instances_batched.onnx"), IntraOpThreads = 1 };
        using var model = LoadedModel.Load(options);
        Assert.True(model.AcceptsBatches);
        await using var analyzer = new ImageAnalyzer(model, options,
            new DynamicBatcherOptions { MaxBatchSize = 4, MaxQueueDelay = TimeSpan.FromMilliseconds(200) });
        Assert.Equal(4, analyzer.Batching.MaxBatchSize);
        byte[] reds = [0, 40, 80, 120, 160, 200, 240, 255];

        var results = await Task.WhenAll(reds.Select(red => analyzer.AnalyzeAsync(Uniform(128, 96, red))));

        Assert.True(analyzer.Statistics.MeanBatchSize > 1.5, $"mean batch size {analyzer.Statistics.MeanBatchSize}");
        for (int i = 0; i < reds.Length; i++)
        {
            float r = reds[i] / 255f; // the graph's mean over 128×96 pixels carries float rounding
            Assert.Equal(2, results[i].Instances.Count);
            var (a, b) = (results[i].Instances[0], results[i].Instances[1]);
            Assert.Equal(8 + 16 * r, a.Box.X1, 1e-3f);
            Assert.Equal(56 + 16 * r, a.Box.Y2, 1e-3f);
            Assert.Equal(0.6f + 0.3f * r, a.Score, 1e-4f);
            Assert.Equal(r < 0.5f ? "abnormal" : "normal", a.ClassName);
            Assert.Equal(19.5f + 16 * r, a[KeypointName.Up].X, 1e-3f);
            Assert.Equal(new BoundingBox(60, 10, 90, 50), b.Box);
            Assert.Equal("hemo", b.ClassName);
        }
    }

    /// <summary>
    /// instances_detectron2_layout: a stand-in with detectron2's export interface (fixed 128×96 input), adapted by
    /// adapt_detectron2_onnx.py. Its first box moves by 10 × mean(channel 0) / 255, and channel 0 is blue when the
    /// input is BGR. The 256×192 image is resized to 128×96, so original coordinates are twice the model's.
    /// </summary>
    [Fact]
    public async Task A_detectron2_layout_export_adapted_by_the_recipe_decodes_with_zero_based_labels_and_probability_keypoints()
    {
        var options = new InferenceOptions { ModelPath = Path.Combine(FixtureDirectory, "instances_detectron2_layout.onnx"), IntraOpThreads = 1 };
        using var model = LoadedModel.Load(options);
        Assert.Equal((0, KeypointScoreKind.Probability, ColorOrder.Bgr), (model.Contract.LabelOffset, model.Contract.KeypointScore, model.Contract.Normalization.ColorOrder));
        Assert.Equal(new FixedSizePolicy(128, 96), model.Contract.SizePolicy);
        Assert.False(model.AcceptsBatches);
        await using var analyzer = new ImageAnalyzer(model, options, new DynamicBatcherOptions());

        var instances = (await analyzer.AnalyzeAsync(Uniform(256, 192, red: 0, blue: 255))).Instances;

        Assert.Equal(["normal", "hemo"], instances.Select(i => i.ClassName));
        Assert.Equal(new BoundingBox(40, 40, 100, 160), instances[0].Box);
        Assert.Equal(new BoundingBox(120, 20, 180, 100), instances[1].Box);
        // Keypoint k of the model's 9 sat at continuous (10 + k, 20), the centre of model pixel (9.5 + k, 19.5) in
        // pixel indices, which is original (19.5 + 2k, 39.5); its probability 0.1 k stays. The 9th (X) is dropped.
        Assert.Equal(Enumerable.Range(0, 8).Select(k => (19.5f + 2 * k, 39.5f, 0.1f * k)),
            instances[0].Keypoints.Select(k => (k.X, k.Y, MathF.Round(k.Confidence, 5))));
        Assert.True(instances[0].Mask.Area > 50 * 110, $"mask area {instances[0].Mask.Area}");
    }

    private static RgbImage Uniform(int width, int height, byte red, byte blue = 30)
    {
        var pixels = new byte[width * height * 3];
        for (int i = 0; i < pixels.Length; i += 3) { pixels[i] = red; pixels[i + 1] = 90; pixels[i + 2] = blue; }
        return new RgbImage(width, height, pixels, ImageFormat.Png);
    }
}
