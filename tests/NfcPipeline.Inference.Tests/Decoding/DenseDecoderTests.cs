using NfcPipeline.Core.Domain;
using NfcPipeline.Inference.Decoding;
using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Tests.Decoding;

/// <summary>Decodes hand-built dense maps whose instances, classes and keypoints are known exactly.</summary>
public partial class DenseDecoderTests
{
    private const int Stride = 2, GridW = 64, GridH = 48;
    private static readonly string[] Classes = ["hairpin", "tortuous", "blur"];

    /// <summary>A rectangle of cells forming one instance, its class and its keypoints in model input pixels.</summary>
    private sealed record Blob(int X0, int Y0, int X1, int Y1, int ClassIndex, (float X, float Y)[] Keypoints)
    {
        public float CentreX => ((X0 + X1) / 2 + 0.5f) * Stride - 0.5f;
        public float CentreY => ((Y0 + Y1) / 2 + 0.5f) * Stride - 0.5f;
        public int CentreCell => (Y0 + Y1) / 2 * GridW + (X0 + X1) / 2;
    }

    private static readonly Blob A = new(10, 10, 14, 30, 0,
        [(21f, 19.3f), (21f, 25.2f), (19.2f, 40f), (25.7f, 40f), (19.5f, 50f), (26.1f, 50f), (22f, 58.4f), (24f, 59.6f)]);
    private static readonly Blob B = new(40, 12, 46, 34, 1,
        [(85f, 23f), (86f, 31f), (81.4f, 44f), (88.2f, 44f), (83f, 52f), (90.6f, 52f), (84f, 64f), (88f, 66f)]);

    private static float CellCentre(int i) => (i + 0.5f) * Stride - 0.5f;

    private static List<NamedTensor> BuildMaps(bool withKeypointOffsets, params Blob[] blobs)
    {
        int n = GridW * GridH;
        float[] cap = new float[n], centre = new float[n], offset = new float[2 * n], kp = new float[8 * n],
            kpOffset = new float[16 * n], radius = new float[n], logits = new float[Classes.Length * n];
        foreach (var b in blobs)
        {
            for (int y = b.Y0; y <= b.Y1; y++)
                for (int x = b.X0; x <= b.X1; x++)
                {
                    int i = y * GridW + x;
                    cap[i] = 0.9f;
                    offset[i] = b.CentreX - CellCentre(x);
                    offset[n + i] = b.CentreY - CellCentre(y);
                    radius[i] = 4f - Math.Abs(x - (b.X0 + b.X1) / 2) * 0.5f;
                    logits[b.ClassIndex * n + i] = 4f;
                }
            centre[b.CentreCell] = 0.95f;
            centre[b.CentreCell + 1] = 0.6f;   // a shoulder, not a second peak
            for (int k = 0; k < 8; k++)
            {
                var (kx, ky) = b.Keypoints[k];
                int cx = (int)Math.Round((kx + 0.5f) / Stride - 0.5f), cy = (int)Math.Round((ky + 0.5f) / Stride - 0.5f);
                int cell = cy * GridW + cx;
                kp[k * n + cell] = 0.8f;
                kp[k * n + cell + 1] = 0.3f;
                // Both cells vote for the keypoint, as a trained model's offsets around a peak do.
                kpOffset[2 * k * n + cell] = kx - CellCentre(cx);
                kpOffset[(2 * k + 1) * n + cell] = ky - CellCentre(cy);
                kpOffset[2 * k * n + cell + 1] = kx - CellCentre(cx + 1);
                kpOffset[(2 * k + 1) * n + cell + 1] = ky - CellCentre(cy);
            }
        }
        long[] Shape(int c) => [1, c, GridH, GridW];
        var maps = new List<NamedTensor>
        {
            new("capillary", cap, Shape(1)), new("center", centre, Shape(1)), new("offset", offset, Shape(2)),
            new("keypoints", kp, Shape(8)), new("radius", radius, Shape(1)), new("class_logits", logits, Shape(Classes.Length)),
        };
        if (withKeypointOffsets) maps.Add(new("keypoint_offset", kpOffset, Shape(16)));
        return maps;
    }

    /// <summary>
    /// The blobs are rectangles, not loops: their limb keypoints do not lie either side of the line from the centroid
    /// to U, so the side split is off except in the test that builds a loop for it.
    /// </summary>
    private static readonly DenseDecoderOptions BlobOptions = new() { LimbSides = false };

    private static IReadOnlyList<CapillaryInstance> Decode(List<NamedTensor> maps, ResizePlan plan) =>
        new DenseDecoder(Classes, Stride, BlobOptions).Decode(DenseOutputs.ForBatchItem(maps, 0, Classes.Length), plan);

    [Fact]
    public void Two_blobs_become_two_instances_with_exact_masks_classes_and_keypoints()
    {
        var plan = new ResizePlan(128, 96, 128, 96, 128, 96);
        var instances = Decode(BuildMaps(true, A, B), plan).OrderBy(i => i.Box.X1).ToList();

        Assert.Equal(2, instances.Count);
        var (a, b) = (instances[0], instances[1]);
        Assert.Equal(5 * 21 * 4, a.Mask.Area);                       // 5×21 cells of 2×2 pixels
        Assert.Equal(new BoundingBox(20, 20, 30, 62), a.Box);
        Assert.Equal("hairpin", a.ClassName);
        Assert.Equal("tortuous", b.ClassName);
        Assert.True(a.ClassProbabilities[0] > 0.95f);
        Assert.Equal(0.95f * 0.9f, a.Score, 4);
        for (int k = 0; k < 8; k++)
        {
            Assert.Equal(A.Keypoints[k].X, a.Keypoints[k].X, 3);
            Assert.Equal(A.Keypoints[k].Y, a.Keypoints[k].Y, 3);
            Assert.Equal(0.8f, a.Keypoints[k].Confidence, 5);
            Assert.Equal(B.Keypoints[k].X, b.Keypoints[k].X, 3);
        }
        Assert.NotNull(a.RadiusSamples);
        Assert.All(a.RadiusSamples!, r => Assert.Equal(4f, r));    // the ridge of the radius map is its centreline
    }

    [Fact]
    public void Keypoints_and_masks_map_back_through_the_resize_exactly()
    {
        // The model saw the image at half size: original 256×192 → 128×96.
        var plan = new ResizePlan(256, 192, 128, 96, 128, 96);
        var a = Decode(BuildMaps(true, A), plan).Single();

        for (int k = 0; k < 8; k++)
        {
            Assert.Equal((A.Keypoints[k].X + 0.5f) * 2 - 0.5f, a.Keypoints[k].X, 3);
            Assert.Equal((A.Keypoints[k].Y + 0.5f) * 2 - 0.5f, a.Keypoints[k].Y, 3);
        }
        Assert.Equal(5 * 21 * 16, a.Mask.Area);
        Assert.Equal(new BoundingBox(40, 40, 60, 124), a.Box);
        Assert.All(a.RadiusSamples!, r => Assert.Equal(8f, r));
    }

    [Fact]
    public void Without_keypoint_offsets_peaks_are_refined_by_a_parabola_within_half_a_cell()
    {
        var a = Decode(BuildMaps(false, A), new ResizePlan(128, 96, 128, 96, 128, 96)).Single();
        for (int k = 0; k < 8; k++)
        {
            Assert.InRange(Math.Abs(a.Keypoints[k].X - A.Keypoints[k].X), 0, Stride);
            Assert.InRange(Math.Abs(a.Keypoints[k].Y - A.Keypoints[k].Y), 0, Stride);
        }
    }

    [Fact]
    public void Empty_maps_give_no_instances_and_malformed_outputs_are_refused()
    {
        var plan = new ResizePlan(128, 96, 128, 96, 128, 96);
        Assert.Empty(Decode(BuildMaps(true), plan));

        var maps = BuildMaps(true, A);
        maps.RemoveAll(m => m.Name == "radius");
        maps[0] = maps[0] with { Shape = [1, 2, GridH, GridW] };
        var error = Assert.Throws<InvalidDataException>(() => DenseOutputs.ForBatchItem(maps, 0, Classes.Length));
        Assert.Contains("output 'radius' is missing", error.Message);
        Assert.Contains("output 'capillary' must be [N,1,H,W]", error.Message);
    }

    [Fact]
    public void NaN_or_infinite_output_values_are_refused_with_where_they_are()
    {
        foreach (var bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var maps = BuildMaps(true, A);
            int keypoints = maps.FindIndex(m => m.Name == "keypoints");
            var data = maps[keypoints].Data.ToArray();
            data[3 * GridH * GridW + 5 * GridW + 7] = bad;   // channel 3, cell (7, 5)
            maps[keypoints] = maps[keypoints] with { Data = data };

            var error = Assert.Throws<InvalidDataException>(() => DenseOutputs.ForBatchItem(maps, 0, Classes.Length));
            Assert.Contains("output 'keypoints' holds a NaN or infinite value (channel 3, cell 7,5)", error.Message);
        }
        // Every position of a vector and of the scalar tail is checked.
        for (int length = 1; length < 40; length++)
            for (int at = 0; at < length; at++)
            {
                var values = Enumerable.Repeat(1f, length).ToArray();
                values[at] = float.NaN;
                Assert.Equal(at, DenseOutputs.FirstNonFinite(values));
            }
        Assert.Null(DenseOutputs.FirstNonFinite(Enumerable.Repeat(float.MaxValue, 37).ToArray()));
    }

    [Theory]
    [InlineData("capillary", 2.5f)]
    [InlineData("center", -0.4f)]
    [InlineData("keypoints", 1.2f)]
    public void A_probability_map_outside_0_to_1_is_refused_as_exported_without_its_sigmoid(string output, float value)
    {
        // Logits pass the finite check; thresholds of 0.5 and 0.15 applied to them found other masks and peaks.
        var maps = BuildMaps(true, A);
        int index = maps.FindIndex(m => m.Name == output);
        var data = maps[index].Data.ToArray();
        data[5 * GridW + 7] = value;   // channel 0, cell (7, 5)
        maps[index] = maps[index] with { Data = data };

        var error = Assert.Throws<InvalidDataException>(() => DenseOutputs.ForBatchItem(maps, 0, Classes.Length));

        Assert.Contains($"output '{output}' holds {value}, outside [0, 1] (channel 0, cell 7,5)", error.Message);
        Assert.Contains("exported without its sigmoid?", error.Message);
    }

    [Fact]
    public void Offsets_and_radii_outside_0_to_1_are_values_not_probabilities()
    {
        var maps = BuildMaps(true, A);
        foreach (var (name, value) in new[] { ("radius", 12.5f), ("offset", -3.75f) })
        {
            int index = maps.FindIndex(m => m.Name == name);
            var data = maps[index].Data.ToArray();
            data[0] = value;
            maps[index] = maps[index] with { Data = data };
        }

        // Taken as they are: no probability check refuses them, and nothing clamps them to 0..1.
        var outputs = DenseOutputs.ForBatchItem(maps, 0, Classes.Length);
        Assert.Equal(12.5f, outputs.RadiusMap.Plane(0)[0]);
        Assert.Equal(-3.75f, outputs.OffsetMap.Plane(0)[0]);
    }

    [Fact]
    public void Instances_smaller_than_the_minimum_area_are_dropped()
    {
        var tiny = new Blob(50, 40, 51, 41, 2, A.Keypoints);
        var decoder = new DenseDecoder(Classes, Stride, BlobOptions with { MinInstanceArea = 20 });
        var instances = decoder.Decode(DenseOutputs.ForBatchItem(BuildMaps(true, A, tiny), 0, Classes.Length), new ResizePlan(128, 96, 128, 96, 128, 96));
        Assert.Single(instances);
    }

    private static readonly ResizePlan Unscaled = new(128, 96, 128, 96, 128, 96);

    /// <summary>Blob A's maps with its keypoint heatmaps edited (channel c of cell i at data[c × cells + i]).</summary>
    private static List<NamedTensor> MapsOfAWithHeatmaps(Action<float[]> edit)
    {
        var maps = BuildMaps(true, A);
        var keypoints = maps.Single(m => m.Name == "keypoints");
        var data = keypoints.Data.ToArray();
        edit(data);
        maps[maps.IndexOf(keypoints)] = keypoints with { Data = data };
        return maps;
    }

    private static CapillaryInstance DecodeSingle(List<NamedTensor> maps, DenseDecoderOptions? options = null) =>
        new DenseDecoder(Classes, Stride, options ?? BlobOptions).Decode(DenseOutputs.ForBatchItem(maps, 0, Classes.Length), Unscaled).Single();

    [Fact]
    public void A_grid_larger_than_the_input_at_the_declared_stride_is_refused()
    {
        // The maps are at stride 2 (64×48 for 128×96); metadata claiming stride 4 would place everything twice as far.
        var error = Assert.Throws<InvalidDataException>(() => new DenseDecoder(Classes, 4, BlobOptions)
            .Decode(DenseOutputs.ForBatchItem(BuildMaps(true, A), 0, Classes.Length), Unscaled));
        Assert.Contains("finer stride", error.Message);
    }

    [Fact]
    public void A_huge_finite_radius_keeps_the_pair_search_inside_the_grid()
    {
        var maps = BuildMaps(true, A);
        var radius = maps.Single(m => m.Name == "radius");
        maps[maps.IndexOf(radius)] = radius with { Data = radius.Data.ToArray().Select(v => v > 0 ? 1e10f : v).ToArray() };
        var a = DecodeSingle(maps);   // the reach overflowed int and the pair search read cell -1
        Assert.All(a.Keypoints, k => Assert.True(float.IsFinite(k.X) && float.IsFinite(k.Y)));
        Assert.Equal(A.Keypoints[0].X, a.Keypoints[0].X, 3);
    }

    [Fact]
    public void Paired_search_takes_the_second_edge_from_the_first_edges_cross_section()
    {
        // A stronger decoy for D far down the loop: unpaired decoding takes it, paired decoding keeps D near U.
        int n = GridW * GridH, decoy = 28 * GridW + 12;
        var maps = MapsOfAWithHeatmaps(data => data[1 * n + decoy] = 0.95f);

        var paired = DecodeSingle(maps);
        var unpaired = DecodeSingle(maps, BlobOptions with { PairKeypoints = false });

        Assert.Equal(A.Keypoints[1].Y, paired.Keypoints[1].Y, 3);
        Assert.Equal(CellCentre(28), unpaired.Keypoints[1].Y, 3);
    }

    [Fact]
    public void A_wide_apex_keeps_its_inner_edge_within_the_longer_apex_reach()
    {
        // D ten cells (20 px) below U: beyond four median radii (3.5 px each, 7 cells) but within seven (12 cells).
        int n = GridW * GridH, uCell = 9 * GridW + 10, farD = 19 * GridW + 10;
        var maps = MapsOfAWithHeatmaps(data =>
        {
            Array.Clear(data, n, n);
            data[n + farD] = 0.9f;
        });
        Assert.Equal(0.8f, maps.Single(m => m.Name == "keypoints").Data.Span[uCell]);

        var wide = DecodeSingle(maps);
        var narrow = DecodeSingle(maps, BlobOptions with { ApexPairReachRadii = 4 });

        Assert.Equal(CellCentre(19), wide.Keypoints[1].Y, 3);
        Assert.True(narrow.Keypoints[1].Y < CellCentre(19) - 5, $"D at y {narrow.Keypoints[1].Y}");
    }

    [Fact]
    public void D_is_not_taken_beside_U_closer_than_the_vessels_width()
    {
        // D's heatmap peaks more strongly one cell (2 px) below U than at the apex's inner edge three cells below: the
        // vessel (radius 4 px) is 8 px wide, and an apex is no narrower than its limbs.
        int n = GridW * GridH, besideU = 10 * GridW + 10;
        var maps = MapsOfAWithHeatmaps(data => data[n + besideU] = 0.95f);

        var bounded = DecodeSingle(maps);
        var unbounded = DecodeSingle(maps, BlobOptions with { ApexMinWidths = 0 });

        Assert.Equal(A.Keypoints[1].Y, bounded.Keypoints[1].Y, 3);
        Assert.Equal(CellCentre(10), unbounded.Keypoints[1].Y, 3);
    }

    [Fact]
    public void A_stray_first_edge_peak_without_a_partner_loses_to_a_weaker_peak_with_one()
    {
        // A giant loop's U heatmap can peak at the wrong end; the U whose D lies within reach wins on the joint score.
        int decoy = 28 * GridW + 12;
        var maps = MapsOfAWithHeatmaps(data => data[decoy] = 0.95f);

        var paired = DecodeSingle(maps);
        var unpaired = DecodeSingle(maps, BlobOptions with { PairKeypoints = false });

        Assert.Equal(A.Keypoints[0].Y, paired.Keypoints[0].Y, 3);
        Assert.Equal(A.Keypoints[1].Y, paired.Keypoints[1].Y, 3);
        Assert.Equal(CellCentre(28), unpaired.Keypoints[0].Y, 3);
    }

    [Fact]
    public void A_limb_edge_is_taken_where_its_ridge_crosses_the_first_edges_cross_section()
    {
        // LR's heatmap peaks more strongly two cells further down the limb (at another height, 9 px from LL).
        int n = GridW * GridH, lowerOnTheRidge = 22 * GridW + 13;
        var maps = MapsOfAWithHeatmaps(data => data[3 * n + lowerOnTheRidge] = 0.85f);

        var nearest = DecodeSingle(maps);
        var strongest = DecodeSingle(maps, BlobOptions with { LimbPairNearestFraction = 0 });

        Assert.Equal(A.Keypoints[3].X, nearest.Keypoints[3].X, 3);
        Assert.Equal(A.Keypoints[3].Y, nearest.Keypoints[3].Y, 3);
        Assert.Equal(CellCentre(22), strongest.Keypoints[3].Y, 3);
        // The nearest cell must be nearly as strong: at 0.95 of the other's 0.85, LR's 0.8 is not.
        Assert.Equal(CellCentre(22), DecodeSingle(maps, BlobOptions with { LimbPairNearestFraction = 0.95f }).Keypoints[3].Y, 3);
    }

    [Fact]
    public void The_limb_reach_follows_the_vessel_radius_not_the_median_of_a_mask_made_mostly_of_edge_cells()
    {
        // As on a giant loop's limb: most radius samples lie near the edges (1 px), the centreline's are 6 px. LR sits
        // six cells (12 px) from LL: within 2.5 vessel radii (15 px), beyond 4 median radii (6 px at the floor).
        int n = GridW * GridH, farLr = 20 * GridW + 15;
        var maps = MapsOfAWithHeatmaps(data =>
        {
            Array.Clear(data, 3 * n, n);
            data[3 * n + farLr] = 0.9f;
        });
        Edit(maps, "radius", (data, _) =>
        {
            for (int y = A.Y0; y <= A.Y1; y++)
                for (int x = A.X0; x <= A.X1; x++) data[y * GridW + x] = x == 12 ? 6f : 1f;
        });

        Assert.Equal(CellCentre(15), DecodeSingle(maps).Keypoints[3].X, 3);
        Assert.NotEqual(CellCentre(15), DecodeSingle(maps, BlobOptions with { LimbPairReachRadii = 1.5f }).Keypoints[3].X, 3);
    }

    [Fact]
    public void A_limbs_edges_are_searched_on_its_own_side_of_the_loop()
    {
        // A loop-shaped blob: cells x 20..28 (centroid column 24), U straight above the centroid. Its left limb's edges
        // (cells 20 and 22) are weak; LL's heatmap peaks more strongly on the right limb (cells 26 and 28).
        var loop = new Blob(20, 10, 28, 30, 0,
            [(48.5f, 19.3f), (48.5f, 25.2f), (40.5f, 40f), (44.5f, 40f), (52.5f, 40f), (56.5f, 40f), (42f, 58.4f), (55f, 59.6f)]);
        var maps = BuildMaps(true, loop);
        int n = GridW * GridH, row = 20 * GridW;
        Edit(maps, "keypoints", (data, _) =>
        {
            data[2 * n + row + 20] = 0.4f;    // LL, weak
            data[3 * n + row + 22] = 0.4f;    // LR, weak
            data[2 * n + row + 26] = 0.9f;    // LL's heatmap on the right limb's inner edge
            data[3 * n + row + 28] = 0.9f;    // and LR's on its outer edge
        });

        var sides = DecodeSingle(maps, new DenseDecoderOptions());
        var anywhere = DecodeSingle(maps, new DenseDecoderOptions { LimbSides = false });

        Assert.Equal(CellCentre(20), sides.Keypoints[2].X, 0);
        Assert.Equal(CellCentre(22), sides.Keypoints[3].X, 0);
        Assert.Equal(CellCentre(26), anywhere.Keypoints[2].X, 0);
        Assert.Equal(CellCentre(28), anywhere.Keypoints[3].X, 0);
        Assert.Equal(loop.Keypoints[4].X, sides.Keypoints[4].X, 3);   // the right limb keeps its own edges
    }

    /// <summary>Blob A moved right by <paramref name="cells"/> grid cells, keypoints with it.</summary>
    private static Blob Shifted(Blob b, int cells) => b with
    {
        X0 = b.X0 + cells, X1 = b.X1 + cells,
        Keypoints = b.Keypoints.Select(k => (k.X + cells * Stride, k.Y)).ToArray(),
    };

    /// <summary>Edits one channel of one output in place (channel c of cell i at data[c × cells + i]).</summary>
    private static void Edit(List<NamedTensor> maps, string name, Action<float[], int> edit)
    {
        var map = maps.Single(m => m.Name == name);
        var data = map.Data.ToArray();
        edit(data, GridW * GridH);
        maps[maps.IndexOf(map)] = map with { Data = data };
    }

    [Fact]
    public void A_keypoint_is_the_heatmap_weighted_mean_of_the_votes_around_its_peak()
    {
        // U's shoulder cell (weight 0.3 against the peak's 0.8) votes 4 px further right than the peak does.
        int uCell = 9 * GridW + 10;
        var maps = BuildMaps(true, A);
        Edit(maps, "keypoint_offset", (data, n) => data[uCell + 1] += 4f);

        var voted = DecodeSingle(maps);
        var peakOnly = DecodeSingle(maps, BlobOptions with { KeypointVoteRadius = 0 });

        Assert.Equal(A.Keypoints[0].X + 4f * 0.3f / 1.1f, voted.Keypoints[0].X, 3);
        Assert.Equal(A.Keypoints[0].X, peakOnly.Keypoints[0].X, 3);
        Assert.Equal(0.8f, voted.Keypoints[0].Confidence);   // the confidence stays the peak's
    }
}
