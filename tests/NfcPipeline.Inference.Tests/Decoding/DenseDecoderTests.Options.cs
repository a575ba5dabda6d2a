using NfcPipeline.Inference.Decoding;
using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Tests.Decoding;

// The decoder's options: values out of range refused by name, and bounds that keep decoding sane.
public partial class DenseDecoderTests
{
    [Theory]
    [InlineData(nameof(DenseDecoderOptions.KeypointVoteRadius))]
    [InlineData(nameof(DenseDecoderOptions.OrientationMinInstances))]
    [InlineData(nameof(DenseDecoderOptions.OrientationMinCoherence))]
    [InlineData(nameof(DenseDecoderOptions.OrientationMinCosine))]
    [InlineData(nameof(DenseDecoderOptions.OrientationMinApexConfidence))]
    [InlineData(nameof(DenseDecoderOptions.OrientationMinAxisCoherence))]
    [InlineData(nameof(DenseDecoderOptions.OrientationMinBrightnessCorrelation))]
    [InlineData(nameof(DenseDecoderOptions.MaskThreshold))]
    [InlineData(nameof(DenseDecoderOptions.LimbPairNearestFraction))]
    [InlineData(nameof(DenseDecoderOptions.ApexMinWidths))]
    [InlineData(nameof(DenseDecoderOptions.MaxGroupDistance))]
    [InlineData(nameof(DenseDecoderOptions.CenterNmsRadius))]
    [InlineData(nameof(DenseDecoderOptions.MinInstanceArea))]
    [InlineData(nameof(DenseDecoderOptions.KeypointSearchMargin))]
    [InlineData(nameof(DenseDecoderOptions.LimbPairReachRadii))]
    [InlineData(nameof(DenseDecoderOptions.ApexPairReachRadii))]
    [InlineData(nameof(DenseDecoderOptions.MinPairReachPixels))]
    [InlineData(nameof(DenseDecoderOptions.PairPeakCandidates))]
    public void Out_of_range_or_NaN_decoder_options_are_refused_by_name(string option)
    {
        var bad = option switch
        {
            nameof(DenseDecoderOptions.KeypointVoteRadius) => new DenseDecoderOptions { KeypointVoteRadius = -1 },
            nameof(DenseDecoderOptions.OrientationMinInstances) => new DenseDecoderOptions { OrientationMinInstances = 0 },
            nameof(DenseDecoderOptions.OrientationMinCoherence) => new DenseDecoderOptions { OrientationMinCoherence = 1.5f },
            nameof(DenseDecoderOptions.OrientationMinCosine) => new DenseDecoderOptions { OrientationMinCosine = -2f },
            nameof(DenseDecoderOptions.MaskThreshold) => new DenseDecoderOptions { MaskThreshold = float.NaN },
            nameof(DenseDecoderOptions.LimbPairNearestFraction) => new DenseDecoderOptions { LimbPairNearestFraction = 1.5f },
            nameof(DenseDecoderOptions.ApexMinWidths) => new DenseDecoderOptions { ApexMinWidths = float.NaN },
            // Each by its own name: a NaN CenterNmsRadius was reported as MaxGroupDistance, a LimbPairReachRadii as ApexPairReachRadii.
            nameof(DenseDecoderOptions.MaxGroupDistance) => new DenseDecoderOptions { MaxGroupDistance = 0 },
            nameof(DenseDecoderOptions.CenterNmsRadius) => new DenseDecoderOptions { CenterNmsRadius = float.NaN },
            nameof(DenseDecoderOptions.MinInstanceArea) => new DenseDecoderOptions { MinInstanceArea = -1 },
            nameof(DenseDecoderOptions.KeypointSearchMargin) => new DenseDecoderOptions { KeypointSearchMargin = float.NaN },
            nameof(DenseDecoderOptions.LimbPairReachRadii) => new DenseDecoderOptions { LimbPairReachRadii = 0 },
            nameof(DenseDecoderOptions.ApexPairReachRadii) => new DenseDecoderOptions { ApexPairReachRadii = -1 },
            nameof(DenseDecoderOptions.OrientationMinAxisCoherence) => new DenseDecoderOptions { OrientationMinAxisCoherence = -0.1f },
            nameof(DenseDecoderOptions.OrientationMinBrightnessCorrelation) => new DenseDecoderOptions { OrientationMinBrightnessCorrelation = float.NaN },
            nameof(DenseDecoderOptions.MinPairReachPixels) => new DenseDecoderOptions { MinPairReachPixels = float.NaN },
            // "Unlimited" as int.MaxValue wrapped the candidate lists' size: every image with a loop failed as the model's.
            nameof(DenseDecoderOptions.PairPeakCandidates) => new DenseDecoderOptions { PairPeakCandidates = int.MaxValue },
            _ => new DenseDecoderOptions { OrientationMinApexConfidence = float.NaN },
        };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new DenseDecoder(Classes, Stride, bad));
        Assert.Equal(option, error.ParamName);
    }

    [Fact]
    public void A_sub_pixel_grouping_distance_groups_in_squares_no_narrower_than_a_cell()
    {
        // Squares of the grouping distance itself: 0.0001 px made 1.3 million × 1 million of them, an overflow, and
        // every image with a centre failed as the model's fault.
        var plan = new ResizePlan(128, 96, 128, 96, 128, 96);
        var instances = new DenseDecoder(Classes, Stride, BlobOptions with { MaxGroupDistance = 0.0001f })
            .Decode(DenseOutputs.ForBatchItem(BuildMaps(true, A, B), 0, Classes.Length), plan);
        Assert.Equal(2, instances.Count);   // their votes land on their centres exactly
    }

    [Theory]
    [InlineData(nameof(DenseDecoderOptions.KeypointSearchMargin))]
    [InlineData(nameof(DenseDecoderOptions.MinInstanceArea))]
    [InlineData(nameof(DenseDecoderOptions.CenterNmsRadius))]
    [InlineData(nameof(DenseDecoderOptions.MaxGroupDistance))]
    [InlineData(nameof(DenseDecoderOptions.LimbPairReachRadii))]
    [InlineData(nameof(DenseDecoderOptions.ApexPairReachRadii))]
    public void Infinite_distances_are_refused_by_name(string option)
    {
        // 1e40 in a configuration file reads as infinity: the margin saturated the pixel arithmetic and every image
        // failed as the model's fault; an infinite area or radius silently found nothing, or one capillary per image.
        var bad = option switch
        {
            nameof(DenseDecoderOptions.KeypointSearchMargin) => new DenseDecoderOptions { KeypointSearchMargin = float.PositiveInfinity },
            nameof(DenseDecoderOptions.MinInstanceArea) => new DenseDecoderOptions { MinInstanceArea = float.PositiveInfinity },
            nameof(DenseDecoderOptions.CenterNmsRadius) => new DenseDecoderOptions { CenterNmsRadius = float.PositiveInfinity },
            nameof(DenseDecoderOptions.MaxGroupDistance) => new DenseDecoderOptions { MaxGroupDistance = float.PositiveInfinity },
            nameof(DenseDecoderOptions.LimbPairReachRadii) => new DenseDecoderOptions { LimbPairReachRadii = float.PositiveInfinity },
            _ => new DenseDecoderOptions { ApexPairReachRadii = 1e30f },
        };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new DenseDecoder(Classes, Stride, bad));
        Assert.Equal(option, error.ParamName);
        new DenseDecoder(Classes, Stride, new DenseDecoderOptions { KeypointSearchMargin = DenseDecoderOptions.MaxPixels });   // the bound itself stands
    }
}
