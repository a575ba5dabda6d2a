using NfcPipeline.Inference.Decoding;
using NfcPipeline.Inference.Preprocessing;

namespace NfcPipeline.Inference.Tests.Decoding;

/// <summary>
/// Images smaller than their input tensor (the cells over the padding are not decoded), and the rules where decode.py
/// must agree with this decoder: equal peaks, the grouping distance, the median radius.
/// </summary>
public partial class DenseDecoderTests
{
    // A loop at the right edge of a 100-pixel-wide image whose maps (as a model's may) run on into the padding to 128:
    // cells 50-55 lie over x ≥ 100, and its right-hand keypoints peak there.
    private static readonly Blob AtTheEdge = new(44, 10, 55, 30, 0,
        [(97f, 19.3f), (97f, 25.2f), (90.2f, 40f), (96.7f, 40f), (98.5f, 50f), (106.1f, 50f), (94f, 58.4f), (108f, 59.6f)]);

    [Fact]
    public void Cells_over_the_padding_join_no_instance_and_give_no_keypoint()
    {
        var plan = new ResizePlan(100, 96, 100, 96, 128, 96);
        var edge = Decode(BuildMaps(true, AtTheEdge), plan).Single();

        Assert.Equal(6 * 21 * 4, edge.Mask.Area);              // columns 44-49 only: 6×21 cells of 2×2 pixels
        Assert.True(edge.Box.X2 <= 100, $"the mask reaches x = {edge.Box.X2}");
        Assert.All(edge.Keypoints, k => Assert.True(k.X < 100, $"a keypoint at x = {k.X}, outside the 100-pixel image"));
        Assert.Equal(0.95f * 0.9f, edge.Score, 4);               // the mean over its own cells, not padding ones
    }

    [Fact]
    public void A_keypoint_off_the_picture_has_no_confidence_as_in_instances_v1()
    {
        // 101 pixels at stride 4: the last of 26 cells is centred at x = 101.5, past the edge at 100.5, and offsets can
        // vote a loop cut by the frame further into the padding. A diameter measured there is not one.
        var grid = new CellGrid(new ResizePlan(101, 96, 101, 96, 104, 96), 4, 24, 26);
        Assert.Equal(0f, grid.ToOriginal(grid.CellCentre(25), 10, 0.6f).Confidence);
        Assert.Equal(0f, grid.ToOriginal(50, -0.6f, 0.6f).Confidence);
        Assert.Equal(0.6f, grid.ToOriginal(100.5f, 95.5f, 0.6f).Confidence);   // on the edge: in
        Assert.Equal(0.6f, grid.ToOriginal(grid.CellCentre(24), 10, 0.6f).Confidence);
    }

    [Fact]
    public void A_grid_floored_from_an_input_not_a_multiple_of_the_stride_decodes_and_a_coarser_one_is_refused()
    {
        // A fixed 129×97 input at stride 2: a max-pool network gives 64×48 cells, one pixel row and column short. Every
        // image failed on it, with a model whose size policy is no multiple of its stride.
        var plan = new ResizePlan(129, 97, 129, 97, 129, 97);
        var a = new DenseDecoder(Classes, Stride, BlobOptions).Decode(DenseOutputs.ForBatchItem(BuildMaps(true, A), 0, Classes.Length), plan).Single();
        Assert.Equal(A.Keypoints[0].X, a.Keypoints[0].X, 3);
        var twice = new ResizePlan(258, 194, 258, 194, 258, 194);
        Assert.Contains("does not cover", Assert.Throws<InvalidDataException>(() =>
            new DenseDecoder(Classes, Stride, BlobOptions).Decode(DenseOutputs.ForBatchItem(BuildMaps(true, A), 0, Classes.Length), twice)).Message);
    }

    [Fact]
    public void A_grid_floored_on_one_axis_and_over_the_padding_on_the_other_decodes_within_the_image()
    {
        // 97 rows at stride 2 floor to 48 cells, one short of the 49 that see the image; the columns run on into the
        // padding (100 → 128). Cropping both to the cells that see the image asked for a 49th row the grid lacks, and
        // every such image failed as ModelOutputInvalid.
        var plan = new ResizePlan(100, 97, 100, 97, 128, 97);
        var edge = new DenseDecoder(Classes, Stride, BlobOptions).Decode(DenseOutputs.ForBatchItem(BuildMaps(true, AtTheEdge), 0, Classes.Length), plan).Single();
        Assert.Equal(6 * 21 * 4, edge.Mask.Area);
        Assert.All(edge.Keypoints, k => Assert.True(k.X < 100, $"a keypoint at x = {k.X}, outside the 100-pixel image"));
    }

    [Fact]
    public void A_shape_bucket_larger_than_the_images_padded_size_is_decoded_within_the_image()
    {
        // A model padding to multiples of 16 (100 → 112) in a bucket of 128: the grid is the bucket's, not the plan's.
        var plan = new ResizePlan(100, 96, 100, 96, 112, 96);
        var maps = DenseOutputs.ForBatchItem(BuildMaps(true, A, AtTheEdge), 0, Classes.Length);
        var decoder = new DenseDecoder(Classes, Stride, BlobOptions);

        Assert.Contains("finer stride", Assert.Throws<InvalidDataException>(() => decoder.Decode(maps, plan)).Message);
        var instances = decoder.Decode(maps, plan, tensorSize: (96, 128)).OrderBy(i => i.Box.X1).ToList();
        Assert.Equal(2, instances.Count);
        Assert.Equal(5 * 21 * 4, instances[0].Mask.Area);
        for (int k = 0; k < 8; k++) Assert.Equal(A.Keypoints[k].X, instances[0].Keypoints[k].X, 3);
        Assert.Equal(6 * 21 * 4, instances[1].Mask.Area);
    }

    [Fact]
    public void Cropping_the_maps_keeps_every_channels_values_in_place()
    {
        var maps = DenseOutputs.ForBatchItem(BuildMaps(true, A, B), 0, Classes.Length);
        var cropped = maps.Cropped(40, 50);
        Assert.Equal((40, 50), (cropped.Height, cropped.Width));
        foreach (var (full, part) in new[] { (maps.KeypointMap, cropped.KeypointMap), (maps.OffsetMap, cropped.OffsetMap),
                     (maps.KeypointOffsetMap!.Value, cropped.KeypointOffsetMap!.Value), (maps.ClassLogitMap, cropped.ClassLogitMap) })
            for (int c = 0; c < full.Channels; c++)
                for (int y = 0; y < 40; y++)
                    for (int x = 0; x < 50; x++)
                        Assert.Equal(full.Plane(c)[y * GridW + x], part.Plane(c)[y * 50 + x]);
    }

    [Fact]
    public void Equal_centre_peaks_come_out_in_grid_order()
    {
        // 30 loops whose centres are all 0.95 (a quantized model's map has few distinct values): the order of the
        // instances, and which of two equal neighbours survives, must not depend on an unstable sort.
        var blobs = new List<Blob>();
        for (int y = 2; y + 2 < GridH; y += 10)
            for (int x = 2; x + 2 < GridW; x += 10)
            {
                var centre = (X: (x + 1 + 0.5f) * Stride - 0.5f, Y: (y + 1 + 0.5f) * Stride - 0.5f);
                blobs.Add(new Blob(x, y, x + 2, y + 2, 0, Enumerable.Repeat(centre, 8).ToArray()));
            }
        var instances = new DenseDecoder(Classes, Stride, BlobOptions with { OrientByConsensus = false })
            .Decode(DenseOutputs.ForBatchItem(BuildMaps(true, [.. blobs]), 0, Classes.Length), Unscaled);

        Assert.Equal(blobs.Count, instances.Count);
        Assert.Equal(blobs.Select(b => (b.Y0 * Stride, b.X0 * Stride)), instances.Select(i => ((int)i.Box.Y1, (int)i.Box.X1)));
    }

    [Fact]
    public void A_cell_voting_exactly_the_grouping_distance_away_joins_the_loop()
    {
        var maps = BuildMaps(true, A);
        var (cap, offset) = ((float[])maps[0].Data.ToArray(), (float[])maps[2].Data.ToArray());
        int n = GridW * GridH, cell = 40 * GridW + 40;             // a lone foreground cell far from A
        cap[cell] = 0.9f;
        offset[cell] = A.CentreX + 48f - CellCentre(40);           // its vote: 48 px to the right of A's centre
        offset[n + cell] = A.CentreY - CellCentre(40);
        maps[0] = maps[0] with { Data = cap };
        maps[2] = maps[2] with { Data = offset };

        var a = Decode(maps, Unscaled).Single();
        Assert.Equal(5 * 21 * 4 + 4, a.Mask.Area);               // only votes farther than MaxGroupDistance are dropped
    }

    [Fact]
    public void The_median_radius_of_an_even_count_is_the_mean_of_the_middle_two()
    {
        float[] radius = [1, 1, 1, 5, 5, 5];
        var (median, _) = KeypointLocator.RadiusCells(radius, [0, 1, 2, 3, 4, 5], 1);
        Assert.Equal(3f, median);
    }
}
