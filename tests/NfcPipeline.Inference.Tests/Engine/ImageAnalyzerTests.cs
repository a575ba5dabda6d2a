using System.Security.Cryptography;
using NfcPipeline.Core.Domain;
using NfcPipeline.Imaging;
using NfcPipeline.Inference.Batching;
using NfcPipeline.Inference.Contract;
using NfcPipeline.Inference.Decoding;
using NfcPipeline.Inference.Engine;
using static NfcPipeline.Inference.Tests.Engine.ColourImages;

namespace NfcPipeline.Inference.Tests.Engine;

/// <summary>The whole inference path through real ONNX Runtime, on a fixture model whose answers are known.</summary>
public class ImageAnalyzerTests
{
    private static readonly string FixturePath = Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", "dense_colour.onnx");

    private static InferenceOptions Options() => new()
    {
        ModelPath = FixturePath,
        Device = "cpu",   // the run plan's tests: a GPU host's auto would choose CUDA
        IntraOpThreads = 1,
        // Every keypoint channel of the fixture peaks at one dot, D on U: no apex width to keep them apart.
        Decoder = new DenseDecoderOptions { MaxGroupDistance = 40, MinInstanceArea = 16, ApexMinWidths = 0 },
    };

    private static ImageAnalyzer Analyzer(LoadedModel model, int maxBatch) =>
        new(model, Options(), new DynamicBatcherOptions { MaxBatchSize = maxBatch, MaxQueueDelay = TimeSpan.FromMilliseconds(50) });

    [Fact]
    public void Loading_verifies_the_contract_and_identifies_the_model_by_content_hash()
    {
        using var model = LoadedModel.Load(Options());

        Assert.Equal(ContractKind.DenseV1, model.Contract.Kind);
        Assert.Equal(2, model.Contract.Stride);
        Assert.Equal("image", model.InputName);
        Assert.Equal("CPUExecutionProvider", model.ActiveProvider);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(FixturePath))), model.Sha256Hex);
    }

    [Theory]
    [InlineData("dense_fixed_batch4.onnx", "input 'image' has a fixed batch of 4")]
    [InlineData("dense_int64_output.onnx", "dense/v1 output 'input_shape' must be float32, got Int64")]
    [InlineData("dense_fixed_height.onnx", "input 'image' has one fixed spatial side [-1,3,192,-1]")]
    [InlineData("dense_float16_output.onnx", "dense/v1 output 'pooled_half' must be float32, got Float16")]
    [InlineData("dense_classes_mismatch.onnx", "dense/v1 output 'class_logits' must be [N,4,h,w], got [-1,3,-1,-1] (nfc.classes names 4 classes)")]
    public void Exports_the_executor_cannot_run_are_refused_at_load_with_the_reason(string fixture, string reason)
    {
        var options = Options();
        options.ModelPath = Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", fixture);
        var error = Assert.Throws<ModelContractException>(() => LoadedModel.Load(options));
        Assert.Contains(error.Problems, p => p.Contains(reason));
    }

    [Fact]
    public async Task Runs_on_the_CPU_follow_the_run_plan_unless_configured_otherwise()
    {
        int cores = Environment.ProcessorCount;
        using (var planned = LoadedModel.Load(Options()))
        {
            Assert.Equal(Math.Min(2, cores), planned.MaxConcurrentRuns);
            Assert.Equal(1, planned.IntraOpThreads);   // configured, so kept
        }
        var unset = Options();
        unset.IntraOpThreads = 0;
        using (var shared = LoadedModel.Load(unset))
            Assert.Equal(Math.Max(1, cores / Math.Min(2, cores)), shared.IntraOpThreads);
        var wideOptions = Options();
        wideOptions.MaxConcurrentRuns = 3;
        using var wide = LoadedModel.Load(wideOptions);
        Assert.Equal(3, wide.MaxConcurrentRuns);
        var gatedOptions = Options();
        gatedOptions.MaxConcurrentRuns = 1;
        using var model = LoadedModel.Load(gatedOptions);
        Assert.Equal(1, model.MaxConcurrentRuns);

        // More images than the analyzer admits, many batches in flight through a one-run gate and through three runs
        // at once on one session: every image gets its own answer.
        foreach (var loaded in new[] { model, wide })
        {
            await using var analyzer = new ImageAnalyzer(loaded, Options(), new DynamicBatcherOptions { MaxBatchSize = 2, MaxConcurrentBatches = 4 });
            Assert.Equal(2 * 4 + 4, analyzer.AdmissionLimit);   // every batch slot full, plus PrefetchImages (4) decoding ahead
            var images = Enumerable.Range(0, 16).Select(i => Draw(256, 192, new Blob(20 + 10 * (i % 8), 50, 20, 50, 28 + 10 * (i % 8), 50))).ToList();
            var results = await Task.WhenAll(images.Select(image => analyzer.AnalyzeAsync(image)));
            for (int i = 0; i < images.Count; i++)
                Assert.Equal(new BoundingBox(20 + 10 * (i % 8), 50, 40 + 10 * (i % 8), 100), Assert.Single(results[i].Instances).Box);
        }
    }

    [Fact]
    public async Task A_small_input_limit_warms_up_smaller_and_a_coarse_bucket_never_takes_a_tensor_past_it()
    {
        // The worker warms up at 1024x768; with Inference:MaxInputPixels below that the warm-up image itself was refused.
        var options = Options();
        options.MaxInputPixels = 300 * 300;
        options.BucketGranularity = 1024;   // would round a 256x192 image up to 1024x1024, far past the limit
        using var model = LoadedModel.Load(options);
        await using var analyzer = new ImageAnalyzer(model, options, new DynamicBatcherOptions { MaxBatchSize = 2, MaxQueueDelay = TimeSpan.FromMilliseconds(50) });

        await analyzer.WarmUpAsync(1024, 768);
        var result = await analyzer.AnalyzeAsync(Draw(256, 192, new Blob(40, 50, 20, 50, 48, 50)));

        Assert.Equal(new BoundingBox(40, 50, 60, 100), Assert.Single(result.Instances).Box);
        Assert.Contains(new InferenceOptions { ModelPath = FixturePath, BucketGranularity = 4096 }.Validate(),
            p => p.StartsWith("Inference:BucketGranularity must be 1 to 1024", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("auto", true)]
    [InlineData(" AUTO ", true)]
    [InlineData("cuda:1", true)]
    [InlineData("gpu", false)]
    public void The_device_setting_is_checked_without_resolving_auto(string device, bool valid)
    {
        // Resolving auto looks at the ONNX Runtime library: validating loaded it before Inference:OnnxRuntimePath applied.
        var problems = new InferenceOptions { ModelPath = FixturePath, Device = device }.Validate();
        Assert.Equal(valid, !problems.Any(p => p.StartsWith("Inference:Device", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public async Task Warming_up_runs_one_full_batch_directly_and_one_image_through_the_batcher(int maxBatch)
    {
        using var model = LoadedModel.Load(Options());
        await using var analyzer = Analyzer(model, maxBatch);

        var warmUp = await analyzer.WarmUpAsync(256, 192);
        double fullBatchSeconds = warmUp.FullBatchSeconds;
        Assert.Null(warmUp.FullBatchError);

        // Batch 1 needs no separate run: the one analysed image is it.
        Assert.True(maxBatch > 1 ? fullBatchSeconds > 0 : fullBatchSeconds == 0, $"full batch took {fullBatchSeconds} s");
        Assert.Equal(1, analyzer.Statistics.BatchesExecuted);
        var result = await analyzer.AnalyzeAsync(Draw(256, 192, new Blob(40, 50, 20, 50, 48, 50)));
        Assert.Equal(new BoundingBox(40, 50, 60, 100), Assert.Single(result.Instances).Box);
    }

    [Fact]
    public void A_model_without_the_contract_is_refused_with_every_problem_listed()
    {
        var options = Options();
        options.ModelPath = Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", "add_mul.onnx");
        var error = Assert.Throws<ModelContractException>(() => LoadedModel.Load(options));
        Assert.Contains("add_mul.onnx", error.Message);
        Assert.Contains(error.Problems, p => p.Contains("supported: dense/v1, instances/v1"));
        Assert.Contains(error.Problems, p => p.Contains("'nfc.classes' is missing"));
    }

    [Fact]
    public void A_missing_model_file_names_the_fix()
    {
        var options = Options();
        options.ModelPath = "models/does-not-exist.onnx";
        var error = Assert.Throws<FileNotFoundException>(() => LoadedModel.Load(options));
        Assert.Contains("--model PATH", error.Message);
    }

    [Fact]
    public async Task Two_marked_capillaries_come_back_with_exact_masks_boxes_classes_and_keypoints()
    {
        using var model = LoadedModel.Load(Options());
        await using var analyzer = Analyzer(model, 1);
        var image = Draw(256, 192, new Blob(40, 50, 20, 50, 48, 50), new Blob(150, 40, 20, 40, 160, 78));

        var result = await analyzer.AnalyzeAsync(image);

        var instances = result.Instances.OrderBy(i => i.Box.X1).ToList();
        Assert.Equal(2, instances.Count);
        Assert.Equal(new BoundingBox(40, 50, 60, 100), instances[0].Box);
        Assert.Equal(20 * 50, instances[0].Mask.Area);
        Assert.Equal(new BoundingBox(150, 40, 170, 80), instances[1].Box);
        Assert.All(instances, i => Assert.Equal("hairpin", i.ClassName));
        // Every keypoint channel sees the blue dot: pooled cell (24, 25) has its centre at pixel (48.5, 50.5).
        Assert.All(instances[0].Keypoints, k => { Assert.Equal(48.5f, k.X, 3); Assert.Equal(50.5f, k.Y, 3); Assert.True(k.Confidence > 0.99f); });
        Assert.All(instances[1].Keypoints, k => { Assert.Equal(160.5f, k.X, 3); Assert.Equal(78.5f, k.Y, 3); });
        Assert.Equal((256, 192), (result.Width, result.Height));
    }

    [Fact]
    public async Task Batched_results_equal_one_at_a_time_results_across_mixed_sizes()
    {
        var random = new Random(7);
        var images = Enumerable.Range(0, 12).Select(i =>
        {
            var (w, h) = i % 3 == 0 ? (320, 256) : (256, 192);
            int x = 2 * random.Next(5, 40), y = 2 * random.Next(5, 30);
            return Draw(w, h, new Blob(x, y, 20, 40, x + 8, y), new Blob(x + 80, y + 20, 24, 36, x + 90, y + 50));
        }).ToList();
        using var model = LoadedModel.Load(Options());

        await using var single = Analyzer(model, 1);
        var expected = new List<ImageAnalysis>();
        foreach (var image in images) expected.Add(await single.AnalyzeAsync(image));

        await using var batched = Analyzer(model, 4);
        var actual = await Task.WhenAll(images.Select(image => batched.AnalyzeAsync(image)));

        Assert.True(batched.Statistics.MeanBatchSize > 1.5, $"mean batch size {batched.Statistics.MeanBatchSize}");
        for (int i = 0; i < images.Count; i++)
        {
            Assert.Equal(2, expected[i].Instances.Count);
            Assert.Equal(expected[i].Instances.Select(Signature), actual[i].Instances.Select(Signature));
        }
    }

    [Fact]
    public async Task Files_are_decoded_and_a_corrupt_file_fails_alone_with_its_reason()
    {
        using var model = LoadedModel.Load(Options());
        await using var analyzer = Analyzer(model, 4);
        var dir = Directory.CreateTempSubdirectory("nfc-analyzer-");
        try
        {
            var good = Path.Combine(dir.FullName, "good.png");
            var image = Draw(256, 192, new Blob(40, 50, 20, 50, 48, 50));
            await File.WriteAllBytesAsync(good, PngEncoder.Encode(image));
            var bad = Path.Combine(dir.FullName, "bad.jpg");
            await File.WriteAllTextAsync(bad, "not an image");

            var goodTask = analyzer.AnalyzeFileAsync(good);
            var error = await Assert.ThrowsAsync<ImageDecodeException>(() => analyzer.AnalyzeFileAsync(bad));
            var result = await goodTask;

            Assert.Equal(ImageDecodeError.Unsupported, error.Reason);
            Assert.Equal(ImageFormat.Png, result.Format);
            Assert.Equal(Signature((await analyzer.AnalyzeAsync(image)).Instances.Single()), Signature(result.Instances.Single()));
        }
        finally { dir.Delete(recursive: true); }
    }

    private static string Signature(CapillaryInstance i) =>
        $"{i.Box} {i.Mask.Area} {i.ClassName} " + string.Join(";", i.Keypoints.Select(k => $"{k.X:F3},{k.Y:F3}"));
}
