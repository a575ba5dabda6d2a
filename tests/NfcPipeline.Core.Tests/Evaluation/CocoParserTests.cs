using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Evaluation;

namespace NfcPipeline.Core.Tests.Evaluation;

public class CocoParserTests
{
    private const string Dataset = """
    {
      "info": {"description": "nfc-sim"},
      "images": [{"id": 1, "file_name": "p1/R2_1.png", "width": 1024, "height": 768, "um_per_px": 2.0, "density_per_mm": 8.5, "patient_id": "p1", "finger": "R2"}],
      "categories": [{"id": 3, "name": "normal", "keypoints": ["up","down","left-left","left-right","right-left","right-right","left-bottom","right-bottom"]}],
      "annotations": [
        {"id": 11, "image_id": 1, "category_id": 3, "iscrowd": 0, "bbox": [100, 100, 30, 60],
         "segmentation": [[100,100,130,100,130,160,100,160]],
         "keypoints": [115,100,2, 115,110,2, 100,130,2, 106,130,2, 122,130,2, 130,130,2, 103,160,2, 126,160,1],
         "apical_diameter_um": 20.0, "arterial_diameter_um": 12.0, "venous_diameter_um": 16.0, "distal": true},
        {"id": 12, "image_id": 2, "category_id": 3, "segmentation": {"size": [3, 2], "counts": [1, 2, 3]}, "distal": false},
        {"id": 13, "image_id": 1, "category_id": 3, "segmentation": {"size": [768, 1024], "counts": "0X1l1dkog0"}}
      ],
      "patients": [{"patient_id": "p1", "pattern": "scleroderma-early", "density_per_mm": 8.1, "image_ids": [1], "giant_count": 2, "sex": "F"}]
    }
    """;

    [Fact]
    public void Reads_images_categories_and_simulator_truth()
    {
        var d = CocoParser.Parse(Dataset);
        var image = Assert.Single(d.Images);
        Assert.Equal(("p1/R2_1.png", 1024, 768), (image.FileName, image.Width, image.Height));
        Assert.Equal(2.0, image.UmPerPx);
        Assert.Equal(8.5, image.DensityPerMm);
        Assert.Equal("R2", image.Finger);
        Assert.Equal(8, d.Categories[0].KeypointNames.Count);
        Assert.Equal("normal", d.Category(3)!.Name);

        var patient = Assert.Single(d.Patients);
        Assert.Equal("p1", patient.Id);
        Assert.Equal("scleroderma-early", patient.Pattern);
        Assert.Equal(8.1, patient.DensityPerMm);
        Assert.Equal([1L], patient.ImageIds);
        Assert.Equal(2, patient.Numbers["giant_count"]);
        Assert.Equal("F", patient.Texts["sex"]);
    }

    [Fact]
    public void Reads_polygon_uncompressed_and_compressed_rle_segmentations()
    {
        var a = CocoParser.Parse(Dataset).Annotations;
        Assert.Equal(3, a.Count);
        var polygon = Assert.IsType<CocoPolygons>(a[0].Segmentation);
        Assert.Equal(8, polygon.Polygons[0].Length);
        Assert.Equal(24, a[0].Keypoints!.Length);
        Assert.Equal(1f, a[0].Keypoints![23]);
        Assert.Equal(20.0, a[0].ApicalDiameterUm);
        Assert.Equal(16.0, a[0].VenousDiameterUm);
        Assert.True(a[0].Distal);
        Assert.Equal([1u, 2u, 3u], Assert.IsType<CocoRle>(a[1].Segmentation).Counts);
        Assert.False(a[1].Distal);
        var compressed = Assert.IsType<CocoRle>(a[2].Segmentation);
        Assert.Equal((768, 1024), (compressed.Height, compressed.Width));
        Assert.Equal([0u, 40u, 60u, 786332u], compressed.Counts);
    }

    [Fact]
    public void A_results_list_parses_as_annotations_only()
    {
        var d = CocoParser.Parse("""[{"image_id": 1, "category_id": 3, "score": 0.75, "segmentation": [[0,0,4,0,4,4,0,4]]}]""");
        Assert.Empty(d.Images);
        var a = Assert.Single(d.Annotations);
        Assert.Equal(0.75, a.Score);
        Assert.Equal(1, a.Id);
    }

    [Fact]
    public void Wrong_keypoint_count_is_a_format_error()
    {
        var error = Assert.Throws<FormatException>(() => CocoParser.Parse("""[{"image_id": 1, "category_id": 1, "keypoints": [1,2,2]}]"""));
        Assert.Contains("8 keypoints", error.Message);
    }

    [Theory]
    [InlineData("""[{"image_id": 1, "category_id": 1, "bbox": [1, null, 2, 2]}]""", "Annotation 1: a value has the wrong type")]
    [InlineData("""[{"image_id": 1, "category_id": 1}, {"image_id": 1, "category_id": 1, "keypoints": ["1", 2, 2]}]""", "Annotation 2: a value has the wrong type")]
    [InlineData("""{"images": [], "categories": [{"id": 1, "name": "loop", "keypoints": [1]}]}""", "A value has the wrong type")]
    public void A_value_of_the_wrong_type_is_a_format_error_naming_where(string json, string start)
    {
        // It was an InvalidOperationException, which `nfc evaluate` printed as an unexpected error with its stack trace.
        Assert.StartsWith(start, Assert.Throws<FormatException>(() => CocoParser.Parse(json)).Message);
    }

    [Theory]
    [InlineData("""{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"image_id": 1, "category_id": 1, "segmentation": [[0,0,4,0,4,4]]}]}""",
        "Annotation 1 has a polygon mask, but its image 1 gives no width and height")]
    [InlineData("""{"images": [{"id": 1, "file_name": "a.png", "width": 100000, "height": 100000}], "annotations": [{"image_id": 1, "category_id": 1, "segmentation": [[0,0,4,0,4,4]]}]}""",
        "Image 1 is 100000×100000")]
    [InlineData("""[{"image_id": 1, "category_id": 1}, {"image_id": 1, "category_id": 1, "segmentation": {"size": [4, 4], "counts": [3, 2]}}]""",
        "Annotation 2: an RLE segmentation's runs cover 5 pixels, not its size 4×4")]
    [InlineData("""[{"image_id": 1, "category_id": 1, "segmentation": {"size": [0, 4], "counts": []}}]""",
        "Annotation 1: an RLE segmentation's size [0, 4] must be positive")]
    [InlineData("""[{"image_id": 1, "category_id": 1, "segmentation": {"size": [100000, 100000], "counts": [4294967295, 4294967295, 1410065410]}}]""",
        "Annotation 1: an RLE segmentation's size [100000, 100000] must be positive")]
    [InlineData("""{"images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 2}], "annotations": [{"image_id": 1, "category_id": 1, "segmentation": {"size": [4, 2], "counts": [8]}}]}""",
        "Annotation 1: its RLE size [4, 2] is not its image 1's [2, 4] (size is [height, width])")]
    [InlineData("""{"images": [{"id": 1, "file_name": "a.png"}, {"id": 1, "file_name": "b.png"}], "annotations": []}""",
        "Image id 1 is listed twice (a.png and b.png)")]
    public void A_mask_that_cannot_be_drawn_is_a_format_error_when_parsed(string json, string start)
    {
        // These surfaced only when the masks were drawn: in `nfc evaluate`, after the model had run over every image.
        Assert.StartsWith(start, Assert.Throws<FormatException>(() => CocoParser.Parse(json)).Message);
    }

    [Fact]
    public void Ids_past_2_to_the_53_stay_apart_and_every_image_size_is_checked_when_parsed()
    {
        // Read through a double, ...789 and ...788 were one id, and each image took both images' annotations.
        var d = CocoParser.Parse("""
            {"images": [{"id": 20240101123456789, "file_name": "a.png", "patient_id": 20240101123456789},
                        {"id": 20240101123456788, "file_name": "b.png", "patient_id": 7}],
             "annotations": [{"image_id": 20240101123456789, "category_id": 1, "id": 3.0}]}
            """);
        Assert.Equal([20240101123456789L, 20240101123456788L], d.Images.Select(i => i.Id));
        Assert.Equal(["20240101123456789", "7"], d.Images.Select(i => i.PatientId));
        Assert.Equal(3L, Assert.Single(d.Annotations).Id);
        Assert.Contains("whole number", Assert.Throws<FormatException>(() => CocoParser.Parse("""[{"image_id": 1.5, "category_id": 1}]""")).Message);

        // An image no mask could be drawn in is refused here, with or without polygons (coverage paints every frame).
        foreach (var size in new[] { "\"width\": 70000, \"height\": 70000", "\"width\": -4, \"height\": 8", "\"width\": 1e12, \"height\": 1" })
            Assert.Throws<FormatException>(() => CocoParser.Parse($$"""{"images": [{"id": 1, "file_name": "a.png", {{size}}}], "annotations": []}"""));
        Assert.Throws<ArgumentException>(() => new InstanceMask(0, 0, 65536, 65536, []));
    }

    [Fact]
    public void A_polygon_on_an_image_the_file_does_not_list_is_left_to_the_evaluation()
    {
        var d = CocoParser.Parse("""{"images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}], "annotations": [{"image_id": 2, "category_id": 1, "segmentation": [[0,0,4,0,4,4]]}]}""");
        Assert.IsType<CocoPolygons>(Assert.Single(d.Annotations).Segmentation);
    }

    [Fact]
    public void A_truth_file_name_is_a_path_under_the_images_folder_and_each_file_is_evaluated_once()
    {
        Assert.Null(TruthImageFiles.Problem("P001/L2/a.png"));
        Assert.Null(TruthImageFiles.Problem(@"P001\L2\a.png"));
        Assert.Equal(Path.Combine("/imgs", "P001", "L2", "a.png"), TruthImageFiles.PathUnder("/imgs", @"P001\L2\a.png"));
        Assert.Equal(Path.Combine("/imgs", "a.png"), TruthImageFiles.PathUnder("/imgs", "./a.png"));
        Assert.StartsWith("is an absolute path", TruthImageFiles.Problem("/data/a.png"));
        Assert.StartsWith("is an absolute path", TruthImageFiles.Problem(@"C:\data\a.png"));
        Assert.StartsWith("climbs out", TruthImageFiles.Problem("P001/../../a.png"));
        Assert.Equal("names no file", TruthImageFiles.Problem(" "));

        var d = CocoParser.Parse("""
            {"images": [{"id": 1, "file_name": "P1/a.png"}, {"id": 2, "file_name": "./p1/A.png"}, {"id": 3, "file_name": "b.png"}],
             "annotations": [{"image_id": 1, "category_id": 1}, {"image_id": 2, "category_id": 1}, {"image_id": 2, "category_id": 1}, {"image_id": 3, "category_id": 1}]}
            """);
        var warnings = new List<string>();
        var once = TruthImageFiles.FirstOfEachFile(d, warnings);
        Assert.Equal([1L, 3L], once.Images.Select(i => i.Id));
        Assert.Equal([1L, 3L], once.Annotations.Select(a => a.ImageId));
        Assert.Equal("Image 2 (./p1/A.png) names the file of image 1 (P1/a.png); it is left out, with its 2 annotation(s).", Assert.Single(warnings));
        Assert.Same(once, TruthImageFiles.FirstOfEachFile(once, warnings));
    }

    [Fact]
    public void Parses_from_a_stream_too()
    {
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(Dataset));
        Assert.Equal(3, CocoParser.Parse(stream).Annotations.Count);
    }
}
