using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Imaging;
using NfcPipeline.Inference.Batching;
using NfcPipeline.Inference.Engine;
using static NfcPipeline.Inference.Tests.Engine.ColourImages;

namespace NfcPipeline.Inference.Tests.Engine;

public class FieldAnalyzerTests
{
    [Fact]
    public async Task A_reader_that_stops_early_leaves_no_analysis_running_behind_it()
    {
        var options = ImageAnalyzerLimitsTests.Options();
        using var model = LoadedModel.Load(options);
        await using var analyzer = new ImageAnalyzer(model, options, new DynamicBatcherOptions { MaxBatchSize = 1, MaxQueueDelay = TimeSpan.Zero });
        var fields = new FieldAnalyzer(analyzer, new ImageMeasurer());
        var dir = Directory.CreateTempSubdirectory("nfc-in-order-");
        try
        {
            var files = Enumerable.Range(0, 8).Select(i =>
            {
                var path = Path.Combine(dir.FullName, $"f{i}.png");
                File.WriteAllBytes(path, PngEncoder.Encode(Draw(512, 512, new Blob(20 + 10 * i, 50, 20, 50, 28 + 10 * i, 50))));
                return (path, new Calibration(2.0));
            }).ToList();

            int read = 0;
            await foreach (var outcome in fields.AnalyzeInOrderAsync(files, lookAhead: 4))
            {
                Assert.True(outcome.Succeeded, outcome.Error);
                if (++read == 1) break;   // a reader that stops: a failed write, Ctrl-C
            }

            // Those in flight were stopped and waited for before the loop returned: every request the batcher took has ended.
            var s = analyzer.Statistics;
            Assert.Equal(s.RequestsAccepted, s.RequestsProcessed + s.RequestsFailed + s.RequestsCancelled + s.RequestsDeadlineExceeded);
            Assert.True(s.RequestsAccepted < 8, $"{s.RequestsAccepted} requests: the files past the look-ahead were opened");
        }
        finally { dir.Delete(recursive: true); }
    }
}
