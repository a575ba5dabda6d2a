using NfcPipeline.Imaging;
using NfcPipeline.Inference.Batching;
using NfcPipeline.Inference.Engine;
using static NfcPipeline.Inference.Tests.Engine.ColourImages;

namespace NfcPipeline.Inference.Tests.Engine;

/// <summary>Inference:LargeImagePixels and MaxConcurrentLargeImages: large fields take turns, ordinary ones do not wait.</summary>
public class ImageAnalyzerLargeImageTests
{
    [Fact]
    public async Task A_large_image_waits_for_a_turn_while_an_ordinary_one_goes_ahead()
    {
        // Admission counts images: a chunk of 50 MP fields, several hundred MB each from decode to result, took the memory.
        var options = LargeImageOptions();
        Assert.Empty(options.Validate());
        using var model = LoadedModel.Load(options);
        await using var analyzer = new ImageAnalyzer(model, options, new DynamicBatcherOptions { MaxBatchSize = 1 });
        var large = LargePng();   // 1.2 MP
        var ordinary = PngEncoder.Encode(Draw(256, 192, new Blob(20, 50, 20, 50, 28, 50)));

        await analyzer.LargeImageTurns.WaitAsync();   // another large image's turn
        var waiting = analyzer.AnalyzeContentAsync("large.png", (_, _) => Task.FromResult(large));
        Assert.Equal(256, (await analyzer.AnalyzeContentAsync("ordinary.png", (_, _) => Task.FromResult(ordinary))).Width);
        await UntilOneWaitsAsync(analyzer);
        Assert.Equal(1, analyzer.LargeImagesWaiting);
        Assert.False(waiting.IsCompleted);

        analyzer.LargeImageTurns.Release();
        Assert.Equal(1200, (await waiting).Width);
        Assert.Equal(0, analyzer.LargeImagesWaiting);
        Assert.Equal(1, analyzer.LargeImageTurns.CurrentCount);   // its turn given back
    }

    [Fact]
    public async Task A_file_is_read_once_so_its_turn_and_its_pixels_come_from_the_same_bytes()
    {
        var options = LargeImageOptions();
        using var model = LoadedModel.Load(options);
        await using var analyzer = new ImageAnalyzer(model, options, new DynamicBatcherOptions { MaxBatchSize = 1 });
        var folder = Directory.CreateTempSubdirectory("nfc-large-");
        try
        {
            string path = Path.Combine(folder.FullName, "field.png");
            File.WriteAllBytes(path, LargePng());
            await analyzer.LargeImageTurns.WaitAsync();
            var waiting = analyzer.AnalyzeFileAsync(path);
            await UntilOneWaitsAsync(analyzer);
            Assert.Equal(1, analyzer.LargeImagesWaiting);

            // Replaced while it waits: what it decodes is what it read before its turn, not a second read of the file.
            File.WriteAllBytes(path, PngEncoder.Encode(Draw(256, 192, new Blob(20, 50, 20, 50, 28, 50))));
            analyzer.LargeImageTurns.Release();
            var analysis = await waiting;
            Assert.Equal((1200, 1000), (analysis.Width, analysis.Height));
        }
        finally { folder.Delete(recursive: true); }
    }

    [Fact]
    public async Task A_large_image_cancelled_while_it_waits_for_a_turn_ends_cancelled_and_takes_none()
    {
        var options = LargeImageOptions();
        using var model = LoadedModel.Load(options);
        await using var analyzer = new ImageAnalyzer(model, options, new DynamicBatcherOptions { MaxBatchSize = 1 });
        var large = LargePng();
        await analyzer.LargeImageTurns.WaitAsync();   // another large image's turn
        using var stop = new CancellationTokenSource();

        var waiting = analyzer.AnalyzeContentAsync("large.png", (_, _) => Task.FromResult(large), stop.Token);
        await UntilOneWaitsAsync(analyzer);
        Assert.Equal(1, analyzer.LargeImagesWaiting);
        stop.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, analyzer.LargeImagesWaiting);
        Assert.Equal(0, analyzer.LargeImageTurns.CurrentCount);   // the other's turn still held, none given back for it
        analyzer.LargeImageTurns.Release();
        Assert.Equal(1200, (await analyzer.AnalyzeContentAsync("large.png", (_, _) => Task.FromResult(large))).Width);   // turns still work
        Assert.Equal(1, analyzer.LargeImageTurns.CurrentCount);
    }

    /// <summary>Images over 1 MP are large, one at a time; one model run at a time.</summary>
    private static InferenceOptions LargeImageOptions() => new()
    {
        ModelPath = Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", "dense_colour.onnx"),
        IntraOpThreads = 1, MaxConcurrentRuns = 1, LargeImagePixels = 1_000_000, MaxConcurrentLargeImages = 1,
    };

    /// <summary>A 1.2 MP field: large under <see cref="LargeImageOptions"/>.</summary>
    private static byte[] LargePng() => PngEncoder.Encode(Draw(1200, 1000, new Blob(20, 50, 20, 50, 28, 50)));

    private static async Task UntilOneWaitsAsync(ImageAnalyzer analyzer)
    {
        for (var until = DateTime.UtcNow.AddSeconds(30); analyzer.LargeImagesWaiting == 0 && DateTime.UtcNow < until;) await Task.Delay(10);
    }

    [Theory]
    [InlineData(999_999L, 1, "Inference:LargeImagePixels must be at least 1000000")]
    [InlineData(12_000_000L, 0, "Inference:MaxConcurrentLargeImages must be 1 to 64")]
    public void Out_of_range_large_image_settings_are_refused_by_name(long pixels, int concurrent, string expected)
    {
        var problems = new InferenceOptions { ModelPath = "m.onnx", LargeImagePixels = pixels, MaxConcurrentLargeImages = concurrent }.Validate();
        Assert.Contains(problems, p => p.StartsWith(expected, StringComparison.Ordinal));
    }
}
