using NfcPipeline.Core.Evaluation;

namespace NfcPipeline.Core.Tests.Evaluation;

/// <summary>A truth image without width and height is framed by its masks, within the pixels a sized image may have.</summary>
public class CocoSizelessImageTests
{
    private static CocoDataset Truth(string firstSize, string secondSize) => CocoParser.Parse($$$"""
        {"images": [{"id": 1, "file_name": "a.png"}],
         "categories": [{"id": 1, "name": "normal"}],
         "annotations": [
           {"id": 1, "image_id": 1, "category_id": 1, "segmentation": {"size": {{{firstSize}}}, "counts": [3, 1]}},
           {"id": 2, "image_id": 1, "category_id": 1, "segmentation": {"size": {{{secondSize}}}, "counts": [3, 1]}}]}
        """);

    [Fact]
    public void Masks_that_reach_a_frame_of_more_pixels_than_a_mask_may_cover_are_refused_not_wrapped()
    {
        // One pixel at the far end of a 1×100,000 row and one at the foot of a 100,000×1 column: a 1e10-pixel frame,
        // whose int product wrapped to 1.4e9 (two 1.4 GB arrays, and pixels painted at wrapped offsets).
        var truth = CocoParser.Parse("""
            {"images": [{"id": 1, "file_name": "a.png"}],
             "categories": [{"id": 1, "name": "normal"}],
             "annotations": [
               {"id": 1, "image_id": 1, "category_id": 1, "segmentation": {"size": [1, 100000], "counts": [99999, 1]}},
               {"id": 2, "image_id": 1, "category_id": 1, "segmentation": {"size": [100000, 1], "counts": [99999, 1]}}]}
            """);
        var ex = Assert.Throws<FormatException>(() => CocoEvaluator.Evaluate(truth, truth));
        Assert.Equal("Image 1 gives no width and height, and its masks reach 100000×100000: over the 100,000,000 pixels a mask may cover. " +
            "Give the image's size.", ex.Message);
    }

    [Fact]
    public void Masks_within_the_bound_frame_the_image_and_their_pixels_are_counted()
    {
        var truth = Truth("[2, 2]", "[4, 1]");   // one pixel each: (1,1) of a 2×2 mask, the foot of a 4×1 column
        var pixels = CocoEvaluator.Evaluate(truth, truth).Segmentation;
        Assert.Equal((2L, 2L, 2L, 1.0), (pixels.TruthPixels, pixels.PredictedPixels, pixels.CoveredTruthPixels, pixels.Sensitivity));
    }
}
