using NfcPipeline.Core.Evaluation;

namespace NfcPipeline.Core.Tests.Evaluation;

/// <summary>Crowd truth regions (iscrowd), as COCO's evaluation treats them.</summary>
public partial class CocoEvaluatorTests
{
    [Fact]
    public void A_prediction_on_a_crowd_region_is_neither_true_nor_false_as_in_cocos_evaluation()
    {
        // A crowd region around P3 (the false positive), and one elsewhere that covers nothing predicted.
        static string WithCrowd(string polygon) => Truth.Replace("336,170,2]}",
            $$"""336,170,2]}, {"id": 3, "image_id": 1, "category_id": 1, "iscrowd": 1, "segmentation": [{{polygon}}]}""");
        var covered = CocoEvaluator.Evaluate(CocoParser.Parse(WithCrowd("[590,490,640,490,640,550,590,550]")), CocoParser.Parse(Predictions()));
        Assert.Equal((2, 2, 2), (covered.Detection.TruthCount, covered.Detection.PredictionCount, covered.Detection.MatchedCount));
        Assert.Equal(1.0, covered.Detection.F1);
        Assert.Contains("1 unmatched prediction lies on crowd truth regions (iscrowd) and is left out of the counts, as COCO's evaluation leaves them.", covered.Warnings);

        var elsewhere = CocoEvaluator.Evaluate(CocoParser.Parse(WithCrowd("[800,100,900,100,900,200,800,200]")), CocoParser.Parse(Predictions()));
        Assert.Equal((2, 3, 2), (elsewhere.Detection.TruthCount, elsewhere.Detection.PredictionCount, elsewhere.Detection.MatchedCount));
        Assert.DoesNotContain(elsewhere.Warnings, w => w.Contains("crowd", StringComparison.Ordinal));
    }
}
