using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Evaluation;

namespace NfcPipeline.Core.Tests.Evaluation;

public class CocoPredictionsTests
{
    private static CapillaryInstance Instance(int left, int top, int width, int height, int classIndex) => new()
    {
        Mask = new InstanceMask(left, top, width, height, Enumerable.Range(0, width * height).Select(i => i % 7 != 0).ToArray()),
        Box = new BoundingBox(left, top, left + width, top + height),
        ClassNames = ["hairpin", "blur"],
        ClassProbabilities = classIndex == 0 ? [0.8f, 0.2f] : [0.1f, 0.9f],
        Score = 0.75f,
        Keypoints = Enumerable.Range(0, 8).Select(k => new Keypoint(left + k, top + 2 * k, 0.9f)).ToArray(),
    };

    [Fact]
    public void Instances_become_coco_predictions_whose_masks_decode_to_the_same_pixels()
    {
        var a = Instance(10, 20, 30, 40, 0);
        var b = Instance(1000, 740, 40, 40, 1);   // crosses the frame's right and bottom edges
        var dataset = CocoPredictions.Build([new PredictedImage(5, "p/L2/f.jpg", 1024, 768, [a, b])], ["hairpin", "blur"]);

        Assert.Equal(["hairpin", "blur"], dataset.Categories.Select(c => c.Name));
        Assert.Equal([1L, 2L], dataset.Annotations.Select(x => x.CategoryId));
        var decoded = CocoInstances.ToMask(dataset.Annotations[0].Segmentation, 1024, 768);
        Assert.Equal(a.Mask.Area, decoded.Area);
        Assert.Equal(1.0, decoded.IntersectionOverUnion(a.Mask), 12);
        var clipped = CocoInstances.ToMask(dataset.Annotations[1].Segmentation, 1024, 768);
        Assert.Equal(Enumerable.Range(0, 24 * 28).Count(i => (i / 24 * 40 + i % 24) % 7 != 0), clipped.Area);
        Assert.Equal([10.0, 20.0, 30.0, 40.0], dataset.Annotations[0].Bbox!);
        Assert.Equal(0.75, dataset.Annotations[0].Score!.Value, 6);
        Assert.Equal(24, dataset.Annotations[0].Keypoints!.Length);
    }

    [Fact]
    public void Predictions_identical_to_the_truth_score_perfectly()
    {
        var instances = new[] { Instance(100, 100, 20, 50, 0), Instance(300, 120, 24, 40, 0) };
        var truth = CocoPredictions.Build([new PredictedImage(1, "img.png", 640, 480, instances)], ["hairpin", "blur"]);
        var report = CocoEvaluator.Evaluate(truth, truth);
        Assert.Equal(1.0, report.Detection.F1);
        Assert.Equal(1.0, report.Segmentation.Sensitivity);
        Assert.Equal(1.0, report.Classification.Accuracy);
    }
}
