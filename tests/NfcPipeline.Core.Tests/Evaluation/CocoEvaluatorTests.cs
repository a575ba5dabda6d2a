using System.Text;
using NfcPipeline.Core.Evaluation;
using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Core.Options;

namespace NfcPipeline.Core.Tests.Evaluation;

public partial class CocoEvaluatorTests
{
    // Truth A: 30×60 px rectangle, apical 10 px, limbs 6 and 8 px, apical 20 µm given. Truth B: 40×70 px, apical 12 px.
    private const string Truth = """
    {
      "images": [{"id": 1, "file_name": "study/p1_R2_1.png", "width": 1024, "height": 768, "um_per_px": 2.0, "density_per_mm": 8.0}],
      "categories": [{"id": 1, "name": "normal"}, {"id": 2, "name": "abnormal"}],
      "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[100,100,130,100,130,160,100,160]], "apical_diameter_um": 20.0,
         "keypoints": [115,100,2, 115,110,2, 100,130,2, 106,130,2, 122,130,2, 130,130,2, 103,160,2, 126,160,2]},
        {"id": 2, "image_id": 1, "category_id": 2, "segmentation": [[300,100,340,100,340,170,300,170]],
         "keypoints": [320,100,2, 320,112,2, 300,135,2, 306,135,2, 333,135,2, 340,135,2, 303,170,2, 336,170,2]}
      ]
    }
    """;

    /// <summary>P1 overlaps A (IoU 0.85) with apical 12 px and limbs 7 and 8 px; P2 is B exactly as uncompressed RLE; P3 is a false positive as an RLE string.</summary>
    private static string Predictions()
    {
        bool[] b = new bool[768 * 1024], c = new bool[768 * 1024];
        for (int y = 100; y < 170; y++) for (int x = 300; x < 340; x++) b[y * 1024 + x] = true;
        for (int y = 500; y < 540; y++) for (int x = 600; x < 620; x++) c[y * 1024 + x] = true;
        string bCounts = string.Join(",", CocoRleCodec.FromBits(b, 768, 1024).Counts);
        // JSON-escaped: RLE strings may contain a backslash.
        string cCounts = System.Text.Json.JsonSerializer.Serialize(CocoRleCodec.EncodeString(CocoRleCodec.FromBits(c, 768, 1024).Counts));
        return new StringBuilder().Append("""
        {
          "images": [{"id": 7, "file_name": "p1_R2_1.png", "width": 1024, "height": 768, "density_per_mm": 7.0}],
          "categories": [{"id": 1, "name": "hairpin"}, {"id": 2, "name": "abnormal"}],
          "annotations": [
            {"image_id": 7, "category_id": 1, "score": 0.9, "segmentation": [[102,102,132,102,132,160,102,160]],
             "keypoints": [117,102,0.9, 117,114,0.8, 102,130,0.9, 109,130,0.9, 124,130,0.9, 132,130,0.9, 105,160,0.9, 128,160,0.9]},
        """).Append($$$"""
            {"image_id": 7, "category_id": 2, "score": 0.8, "segmentation": {"size": [768, 1024], "counts": [{{{bCounts}}}]}},
            {"image_id": 7, "category_id": 1, "score": 0.3, "segmentation": {"size": [768, 1024], "counts": {{{cCounts}}}}}
          ]
        }
        """).ToString();
    }

    /// <summary>The pipeline's measurement of one image as the evaluator reads it: grading and capillaries, no density of its own.</summary>
    private static ImageMeasurement Measurement(ImageGrading grading, IReadOnlyList<CapillaryMeasurement>? capillaries = null) => new()
    {
        ImageWidth = 1024, ImageHeight = 768, MicrometresPerPixel = 2, Capillaries = capillaries ?? [],
        DistalRow = new DistalRow { Indices = [], DistalAxis = new(0, -1), AxisSource = DistalAxisSource.ImageUp, BandPx = 0, LateralWindowPx = 0 },
        Grading = grading, Quality = grading.IsGradable ? ImageQuality.Good : ImageQuality.Ungradable, QualityNotes = [],
    };

    private static EvaluationReport Evaluate(EvaluationOptions? options = null, IReadOnlyDictionary<string, double>? truthDensities = null) =>
        CocoEvaluator.Evaluate(CocoParser.Parse(Truth), CocoParser.Parse(Predictions()), options, truthDensities);

    [Fact]
    public void Two_truths_three_predictions_two_matched_gives_f1_of_0_8()
    {
        var d = Evaluate().Detection;
        Assert.Equal((2, 3, 2), (d.TruthCount, d.PredictionCount, d.MatchedCount));
        Assert.Equal(2.0 / 3, d.Precision!.Value, 12);
        Assert.Equal(1.0, d.Recall);
        Assert.Equal(0.8, d.F1!.Value, 12);
    }

    [Fact]
    public void A_model_that_finds_nothing_scores_f1_0_not_unknown()
    {
        const string nothing = """{"images": [{"id": 7, "file_name": "p1_R2_1.png", "width": 1024, "height": 768}], "categories": [], "annotations": []}""";
        var missed = CocoEvaluator.Evaluate(CocoParser.Parse(Truth), CocoParser.Parse(nothing)).Detection;
        Assert.Equal((null, 0.0, 0.0), (missed.Precision, missed.Recall, missed.F1));

        const string noTruth = """{"images": [{"id": 1, "file_name": "study/p1_R2_1.png", "width": 1024, "height": 768}], "categories": [], "annotations": []}""";
        var invented = CocoEvaluator.Evaluate(CocoParser.Parse(noTruth), CocoParser.Parse(Predictions())).Detection;
        Assert.Equal((0.0, null, 0.0), (invented.Precision, invented.Recall, invented.F1));

        var neither = CocoEvaluator.Evaluate(CocoParser.Parse(noTruth), CocoParser.Parse(nothing)).Detection;
        Assert.Null(neither.F1);
    }

    [Fact]
    public void Predicted_annotations_of_an_unlisted_image_id_are_reported_not_dropped_silently()
    {
        var report = CocoEvaluator.Evaluate(CocoParser.Parse(Truth), CocoParser.Parse(Predictions().Replace("\"image_id\": 7, \"category_id\": 1, \"score\": 0.3", "\"image_id\": 8, \"category_id\": 1, \"score\": 0.3")));
        Assert.Equal(2, report.Detection.PredictionCount);
        Assert.Contains("1 predicted annotation names an image id that no image lists; ignored.", report.Warnings);
        Assert.DoesNotContain(Evaluate().Warnings, w => w.Contains("no image lists"));
    }

    [Fact]
    public void Truth_without_a_mask_pixel_is_counted_as_missed_and_said()
    {
        // A box alone, and a "polygon" of two points: nothing an IoU could meet.
        var boxed = Truth.Replace("""{"id": 2, "image_id": 1, "category_id": 2, "segmentation": [[300,100,340,100,340,170,300,170]],""",
            """{"id": 2, "image_id": 1, "category_id": 2, "bbox": [300, 100, 40, 70], "segmentation": [[300,100,340,100]],""");
        var report = CocoEvaluator.Evaluate(CocoParser.Parse(boxed), CocoParser.Parse(Predictions()));

        Assert.Equal((2, 1), (report.Detection.TruthCount, report.Detection.MatchedCount));
        Assert.Contains("1 truth instance has no mask pixel (no segmentation, an empty mask, or a polygon of fewer than 3 points or outside the frame): counted, and missed, since no prediction can overlap it.", report.Warnings);
        Assert.DoesNotContain(Evaluate().Warnings, w => w.Contains("no mask pixel", StringComparison.Ordinal));
    }

    [Fact]
    public void Pixel_sensitivity_is_the_covered_share_of_truth_foreground()
    {
        var s = Evaluate().Segmentation;
        Assert.Equal(1800 + 2800, s.TruthPixels);
        Assert.Equal(1740 + 2800 + 800, s.PredictedPixels);
        Assert.Equal(1624 + 2800, s.CoveredTruthPixels);    // A∩P1 = 28 × 58
        Assert.Equal(4424.0 / 4600, s.Sensitivity!.Value, 12);
    }

    [Fact]
    public void Class_accuracy_with_and_without_a_name_mapping()
    {
        var raw = Evaluate().Classification;
        Assert.Equal(0.5, raw.Accuracy);
        Assert.Equal(["abnormal", "hairpin", "normal"], raw.Labels);

        var options = new EvaluationOptions { ClassNameMap = EvaluationOptions.ParseClassNameMap(["hairpin=normal"]) };
        var mapped = Evaluate(options).Classification;
        Assert.Equal(1.0, mapped.Accuracy);
        Assert.Equal(["abnormal", "normal"], mapped.Labels);
        Assert.Equal([1, 0], mapped.Confusion[0]);
        Assert.Equal([0, 1], mapped.Confusion[1]);
    }

    [Fact]
    public void Diameter_errors_on_matched_pairs_and_error_of_means()
    {
        var diameters = Evaluate().Diameters;
        var apical = diameters.Single(d => d.Diameter == "apical");
        Assert.Equal(1, apical.PairCount);              // P2 has no keypoints
        Assert.Equal(2, apical.MaePx!.Value, 5);         // 12 against 10 px
        Assert.Equal(4, apical.MaeUm!.Value, 5);         // 24 µm against the given 20 µm
        Assert.Equal(1, apical.ErrorOfMeansPx!.Value, 5);  // mean(12) − mean(10, 12)
        Assert.Equal(2, apical.ErrorOfMeansUm!.Value, 5);  // mean(24) − mean(20, 24)

        var arterial = diameters.Single(d => d.Diameter == "arterial");
        Assert.Equal(1, arterial.MaePx!.Value, 5);       // 7 against 6 px
        var venous = diameters.Single(d => d.Diameter == "venous");
        Assert.Equal(0, venous.MaePx!.Value, 5);         // 8 against 8 px
    }

    [Fact]
    public void A_scale_for_every_image_goes_before_the_truths_as_the_predictions_were_measured_at_it()
    {
        // `nfc evaluate --um-per-px 1.5` measures at 1.5 µm/px; the truth's 2.0 converted the predictions' pixels, so
        // the all-pairs figures compared at another scale than the loops' (the pipeline's own µm).
        var diameters = Evaluate(new EvaluationOptions { UmPerPx = 1.5, DefaultUmPerPx = 3 }).Diameters;
        Assert.Equal(2, diameters.Single(d => d.Diameter == "apical").MaeUm!.Value, 5);     // 12 px × 1.5 against the given 20 µm
        Assert.Equal(1.5, diameters.Single(d => d.Diameter == "arterial").MaeUm!.Value, 5); // (7 − 6) px × 1.5
    }

    [Fact]
    public void A_predicted_keypoint_scoring_0_is_not_given_and_makes_no_diameter()
    {
        // D as COCO's [0, 0, 0]: the apical diameter was |U − (0, 0)|, about 160 px, with the default gate of 0.
        var predictions = Predictions().Replace("117,114,0.8", "0,0,0");
        var apical = CocoEvaluator.Evaluate(CocoParser.Parse(Truth), CocoParser.Parse(predictions)).Diameters.Single(d => d.Diameter == "apical");
        Assert.Equal(0, apical.PairCount);
        Assert.Null(apical.MaePx);
    }

    [Fact]
    public void Loop_diameters_count_only_pairs_predicted_as_loops()
    {
        var loops = Evaluate().LoopDiameters.Single(d => d.Diameter == "apical");
        Assert.Equal(1, loops.PairCount);               // P1, a hairpin: a loop
        Assert.Equal(2, loops.MaePx!.Value, 5);

        // A model whose "hairpin" means a blurred capillary: the pair leaves the loops, not the matched instances.
        var blurred = new EvaluationOptions { Categories = ClassCategoryMap.Default.With([new("hairpin", ClinicalCategory.Ungradable)]) };
        var report = Evaluate(blurred);
        Assert.Equal(1, report.Diameters.Single(d => d.Diameter == "apical").PairCount);
        var none = report.LoopDiameters.Single(d => d.Diameter == "apical");
        Assert.Equal((0, 0), (none.PairCount, none.PredictionCount));
        Assert.Null(none.MaePx);
        Assert.Equal(2, none.TruthCount);               // both truths are loops (normal, abnormal)
    }

    [Fact]
    public void A_truth_diameter_with_a_keypoint_labelled_but_not_visible_is_left_out()
    {
        // A's U outside the frame (visibility 1): its apical diameter cannot be seen, its limbs still can.
        string cut = Truth.Replace("[115,100,2, 115,110,2,", "[115,100,1, 115,110,2,");
        var report = CocoEvaluator.Evaluate(CocoParser.Parse(cut), CocoParser.Parse(Predictions()));
        var apical = report.Diameters.Single(d => d.Diameter == "apical");
        Assert.Equal((0, 1), (apical.PairCount, apical.TruthCount));   // B alone has a visible apex
        Assert.Null(apical.MaeUm);
        Assert.Equal(1, report.Diameters.Single(d => d.Diameter == "arterial").PairCount);
        Assert.Contains(report.Warnings, w => w.StartsWith("1 truth diameter is left out", StringComparison.Ordinal));

        // A truth that marks every keypoint 1 does not tell visible from hidden: all its keypoints count.
        var allOnes = CocoEvaluator.Evaluate(CocoParser.Parse(Truth.Replace(",2,", ",1,").Replace(",2]", ",1]")), CocoParser.Parse(Predictions()));
        Assert.Equal(1, allOnes.Diameters.Single(d => d.Diameter == "apical").PairCount);
        Assert.DoesNotContain(allOnes.Warnings, w => w.Contains("left out", StringComparison.Ordinal));
    }

    [Fact]
    public void Distal_row_diameters_count_the_pairs_whose_truth_is_in_the_distal_row()
    {
        Assert.Null(Evaluate().DistalRowDiameters);   // the truth marks no row
        string marked = Truth.Replace("\"apical_diameter_um\": 20.0,", "\"apical_diameter_um\": 20.0, \"distal\": true,")
            .Replace("[[300,100,340,100,340,170,300,170]],", "[[300,100,340,100,340,170,300,170]], \"distal\": false,");
        var distal = CocoEvaluator.Evaluate(CocoParser.Parse(marked), CocoParser.Parse(Predictions())).DistalRowDiameters!;
        var apical = distal.Single(d => d.Diameter == "apical");
        Assert.Equal((1, 1, 1), (apical.PairCount, apical.TruthCount, apical.PredictionCount));   // A and P1
        Assert.Equal(2, apical.MaePx!.Value, 5);
        Assert.Equal(4, apical.MaeUm!.Value, 5);

        // B in the row too: its prediction P2 has no keypoints, so B has no pair and stays out of both means.
        string both = marked.Replace("\"distal\": false,", "\"distal\": true,");
        var pairsOnly = CocoEvaluator.Evaluate(CocoParser.Parse(both), CocoParser.Parse(Predictions())).DistalRowDiameters!
            .Single(d => d.Diameter == "apical");
        Assert.Equal((1, 1, 1), (pairsOnly.PairCount, pairsOnly.TruthCount, pairsOnly.PredictionCount));
        Assert.Equal(2, pairsOnly.ErrorOfMeansPx!.Value, 5);   // mean(12) − mean(10), not mean(10, 12)
    }

    [Fact]
    public void Given_the_pipelines_measurements_the_loop_diameters_are_the_values_it_measured()
    {
        static CapillaryMeasurement Measured(int index, ClinicalCategory category, double? apicalPx) => new()
        {
            Index = index, ClassName = "x", Category = category, Score = 0.9,
            ApicalDiameterPx = apicalPx, ApicalDiameterUm = apicalPx * 2, ArterialDiameterPx = 7, ArterialDiameterUm = 14,
        };
        // P1 measured with an apical diameter of 11 px (its keypoints give 12), P2 and P3 as the pipeline saw them.
        IReadOnlyList<CapillaryMeasurement> measured = [Measured(0, ClinicalCategory.Normal, 11), Measured(1, ClinicalCategory.Abnormal, null),
            Measured(2, ClinicalCategory.Normal, 9)];
        var report = CocoEvaluator.Evaluate(CocoParser.Parse(Truth), CocoParser.Parse(Predictions()),
            pipelineMeasurements: new Dictionary<string, ImageMeasurement> { ["p1_R2_1.png"] = Measurement(ImageGrading.Gradable, measured) });
        var loops = report.LoopDiameters.Single(d => d.Diameter == "apical");
        Assert.Equal((1, 2), (loops.PairCount, loops.PredictionCount));   // P1 paired; P2 withheld its apex; P3 unmatched
        Assert.Equal(1, loops.MaePx!.Value, 5);                          // 11 against 10 px
        Assert.Equal(2, report.Diameters.Single(d => d.Diameter == "apical").MaePx!.Value, 5);   // the keypoints, as before

        // A list that does not line up with the predictions is not used, and the report says so.
        var misaligned = CocoEvaluator.Evaluate(CocoParser.Parse(Truth), CocoParser.Parse(Predictions()),
            pipelineMeasurements: new Dictionary<string, ImageMeasurement> { ["p1_R2_1.png"] = Measurement(ImageGrading.Gradable, measured.Take(2).ToList()) });
        Assert.Equal(2, misaligned.LoopDiameters.Single(d => d.Diameter == "apical").MaePx!.Value, 5);
        Assert.Contains(misaligned.Warnings, w => w.Contains("2 measured capillaries for 3 predictions", StringComparison.Ordinal));

        // An image the pipeline grades ungradable is not in a patient's statistics: its loops leave both sides.
        var ungradable = CocoEvaluator.Evaluate(CocoParser.Parse(Truth), CocoParser.Parse(Predictions()),
            pipelineMeasurements: new Dictionary<string, ImageMeasurement>
            {
                ["p1_R2_1.png"] = Measurement(new ImageGrading(false, UngradableReason.BlurDominates, "blurred"), measured),
            });
        var left = ungradable.LoopDiameters.Single(d => d.Diameter == "apical");
        Assert.Equal((0, 0, 0), (left.PairCount, left.TruthCount, left.PredictionCount));
        Assert.Equal(1, ungradable.Diameters.Single(d => d.Diameter == "apical").PairCount);   // all pairs still count
    }

    [Fact]
    public void Density_pairs_come_from_the_files_or_a_csv_truth()
    {
        var fromFiles = Evaluate().Density;
        Assert.Equal(1, fromFiles.PairCount);
        Assert.Equal(1.0, fromFiles.Mae);
        Assert.Null(fromFiles.Pearson);

        var csv = DensityTruthCsv.Parse("image,count\np1_R2_1.png,19\n", fieldMm: 2.0);
        var fromCsv = Evaluate(truthDensities: csv).Density;
        Assert.Equal(9.5, fromCsv.Pairs[0].Truth);
        Assert.Equal(2.5, fromCsv.Mae);
        Assert.Null(Evaluate().GradableDensity);   // this truth does not say which fields are gradable
    }

    [Fact]
    public void Density_is_also_reported_over_the_images_the_truth_marks_gradable()
    {
        var truth = CocoParser.Parse("""
            {"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64, "density_per_mm": 8.0, "ungradable": false},
                        {"id": 2, "file_name": "b.jpg", "width": 64, "height": 64, "density_per_mm": 9.0, "ungradable": true}],
             "annotations": []}
            """);
        var predictions = CocoParser.Parse("""
            {"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64, "density_per_mm": 7.5},
                        {"id": 2, "file_name": "b.jpg", "width": 64, "height": 64, "density_per_mm": 5.0}],
             "annotations": []}
            """);
        var report = CocoEvaluator.Evaluate(truth, predictions);
        Assert.Equal(2, report.Density.PairCount);
        Assert.Equal(2.25, report.Density.Mae);
        var gradable = Assert.IsType<DensityMetrics>(report.GradableDensity);
        Assert.Equal("a.jpg", Assert.Single(gradable.Pairs).Image);
        Assert.Equal(0.5, gradable.Mae);
    }

    [Fact]
    public void The_pipelines_grading_is_compared_with_the_truths_and_gates_its_own_density()
    {
        var truth = CocoParser.Parse("""
            {"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64, "density_per_mm": 8.0, "ungradable": false},
                        {"id": 2, "file_name": "b.jpg", "width": 64, "height": 64, "density_per_mm": 9.0, "ungradable": true},
                        {"id": 3, "file_name": "c.jpg", "width": 64, "height": 64, "density_per_mm": 6.0, "ungradable": false},
                        {"id": 4, "file_name": "d.jpg", "width": 64, "height": 64, "density_per_mm": 7.0}],
             "annotations": []}
            """);
        var predictions = CocoParser.Parse("""
            {"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64, "density_per_mm": 7.5},
                        {"id": 2, "file_name": "b.jpg", "width": 64, "height": 64, "density_per_mm": 5.0},
                        {"id": 3, "file_name": "c.jpg", "width": 64, "height": 64, "density_per_mm": 9.0},
                        {"id": 4, "file_name": "d.jpg", "width": 64, "height": 64, "density_per_mm": 7.25}],
             "annotations": []}
            """);
        var blurred = new ImageGrading(false, UngradableReason.BlurDominates, "9 of 9 instances are blurred.");
        var sparse = new ImageGrading(false, UngradableReason.TooFewConfidentInstances, "1 gradable instance.");
        var grading = new Dictionary<string, ImageMeasurement>
        {
            ["a.jpg"] = Measurement(ImageGrading.Gradable), ["b.jpg"] = Measurement(blurred), ["c.jpg"] = Measurement(sparse),
            ["d.jpg"] = Measurement(ImageGrading.Gradable),
        };

        var report = CocoEvaluator.Evaluate(truth, predictions, pipelineMeasurements: grading);

        var g = Assert.IsType<GradingAgreement>(report.Grading);   // d.jpg: the truth does not grade it
        Assert.Equal((3, 1, 1), (g.ImageCount, g.BothGradable, g.BothUngradable));
        Assert.Equal(2.0 / 3, g.Agreement!.Value, 12);
        Assert.Equal(new GradingDisagreement("c.jpg", true, false, "1 gradable instance."), Assert.Single(g.Disagreements));
        var graded = Assert.IsType<DensityMetrics>(report.PipelineGradableDensity);
        Assert.Equal(["a.jpg", "d.jpg"], graded.Pairs.Select(p => p.Image));
        Assert.Equal(0.375, graded.Mae);
        Assert.Equal(4, report.Density.PairCount);

        var ungraded = CocoEvaluator.Evaluate(truth, predictions);
        Assert.Null(ungraded.Grading);
        Assert.Null(ungraded.PipelineGradableDensity);
    }

    [Fact]
    public void A_results_list_pairs_with_truth_images_by_id()
    {
        var results = CocoParser.Parse("""
            [{"image_id": 1, "category_id": 2, "score": 0.6, "segmentation": [[300,100,340,100,340,170,300,170]]}]
            """);
        var report = CocoEvaluator.Evaluate(CocoParser.Parse(Truth), results);
        Assert.Equal(1, report.Detection.MatchedCount);
        Assert.Equal(1.0, report.Detection.Precision);
        Assert.Equal(0.5, report.Detection.Recall);
        Assert.Equal(1.0, report.Classification.Accuracy);   // category names come from the truth
    }

    [Fact]
    public void A_predicted_image_two_truth_images_could_be_pairs_with_neither_and_says_so()
    {
        // Two patients' R2/1.png, predictions listed as R2/1.png: its annotations counted for both, and it was also
        // reported as having no truth.
        var truth = CocoParser.Parse(Truth.Replace(
            "\"images\": [{\"id\": 1, \"file_name\": \"study/p1_R2_1.png\"",
            "\"images\": [{\"id\": 2, \"file_name\": \"p2/R2/1.png\", \"width\": 1024, \"height\": 768}, {\"id\": 1, \"file_name\": \"p1/R2/1.png\""));
        Assert.Equal(2, truth.Images.Count);
        var report = CocoEvaluator.Evaluate(truth, CocoParser.Parse(Predictions().Replace("\"p1_R2_1.png\"", "\"R2/1.png\"")));

        Assert.Equal(0, report.Detection.PredictionCount);
        Assert.Equal(2, report.Detection.TruthCount);
        Assert.Contains(report.Warnings, w => w == "Predicted image 'R2/1.png' could be any of 'p1/R2/1.png', 'p2/R2/1.png'; it is paired with none: list predictions under their full paths.");
        Assert.DoesNotContain(report.Warnings, w => w.Contains("has no truth"));

        // Named by its full path it pairs with its own image only.
        var exact = CocoEvaluator.Evaluate(truth, CocoParser.Parse(Predictions().Replace("\"p1_R2_1.png\"", "\"p1/R2/1.png\"")));
        Assert.Equal((3, 2), (exact.Detection.PredictionCount, exact.Detection.MatchedCount));
    }

    [Fact]
    public void Greedy_matching_takes_higher_scores_first_and_one_to_one()
    {
        var truth = CocoInstances.ToMask(new CocoPolygons([[0, 0, 10, 0, 10, 10, 0, 10]]), 64, 64);
        var weak = CocoInstances.ToMask(new CocoPolygons([[0, 0, 10, 0, 10, 10, 0, 10]]), 64, 64);
        var strong = CocoInstances.ToMask(new CocoPolygons([[1, 0, 11, 0, 11, 10, 1, 10]]), 64, 64);
        var matches = InstanceMatcher.Match([truth], [weak, strong], [0.4, 0.9]);
        var match = Assert.Single(matches);
        Assert.Equal(1, match.PredictionIndex);   // the higher score wins although its IoU is lower
        Assert.Equal(90.0 / 110, match.Iou, 12);
    }

    [Fact]
    public void Masks_sharing_no_pixel_never_match_even_at_a_threshold_of_0()
    {
        // Two L shapes whose boxes overlap but whose pixels do not.
        var a = CocoInstances.ToMask(new CocoPolygons([[0, 0, 10, 0, 10, 2, 2, 2, 2, 10, 0, 10]]), 64, 64);
        var b = CocoInstances.ToMask(new CocoPolygons([[4, 4, 12, 4, 12, 12, 4, 12]]), 64, 64);
        Assert.Equal((0, 0.0), (a.IntersectionArea(b), a.IntersectionOverUnion(b)));
        Assert.Empty(InstanceMatcher.Match([a], [b], [0.9], minIou: 0));
    }

    [Fact]
    public void Density_can_be_measured_from_annotations_the_way_the_pipeline_does()
    {
        // Measuring the truth itself: loops A and B both point up with apices at y = 100, so both are distal; the
        // row line crosses the 1024 px frame (2.048 mm at 2 µm/px) with a tilt of under half a degree.
        var truth = CocoParser.Parse(Truth);
        var densities = CocoDensity.Measure(truth, truth, new ImageMeasurer());
        Assert.InRange(densities["study/p1_R2_1.png"], 2 / 2.0485, 2 / 2.048);
    }
}
