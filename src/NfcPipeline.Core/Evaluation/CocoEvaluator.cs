using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Core.Options;

namespace NfcPipeline.Core.Evaluation;

/// <summary>
/// Compares predictions with truth, image by image. Images pair by file name when the predictions list images,
/// otherwise by image id (a COCO results list). Crowd truth regions are left out.
/// </summary>
public static class CocoEvaluator
{
    /// <param name="truthDensities">Density truth by image file name (for example from <see cref="DensityTruthCsv"/>); else the truth's density_per_mm.</param>
    /// <param name="predictedDensities">Predicted density by image file name; else the pipeline's measurement, else the predictions' density_per_mm.</param>
    /// <param name="pipelineMeasurements">
    /// The pipeline's measurement of each image by file name: its grading (the grading agreement, and the density over
    /// the images it grades gradable), its density, and its capillaries, in the order of that image's predicted
    /// annotations (the loop diameters then use the values the pipeline measured).
    /// </param>
    public static EvaluationReport Evaluate(CocoDataset truth, CocoDataset predictions, EvaluationOptions? options = null,
        IReadOnlyDictionary<string, double>? truthDensities = null, IReadOnlyDictionary<string, double>? predictedDensities = null,
        IReadOnlyDictionary<string, ImageMeasurement>? pipelineMeasurements = null)
    {
        options ??= EvaluationOptions.Default;
        var classNameMap = new Dictionary<string, string>(options.ClassNameMap, StringComparer.OrdinalIgnoreCase);
        var warnings = new List<string>();
        var predictedImages = predictions.Images.GroupBy(i => DensityTruthCsv.ImageKey(i.FileName), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g =>
            {
                if (g.Count() > 1) warnings.Add($"Predicted image '{g.Key}' is listed {g.Count()} times; only the first (id {g.First().Id}) is used.");
                return g.First();
            }, StringComparer.OrdinalIgnoreCase);
        var (pairs, claimed) = PairImages(truth.Images, predictedImages, warnings);
        foreach (var extra in predictedImages.Where(p => !claimed.Contains(p.Value.Id)).Select(p => p.Key).Order(StringComparer.Ordinal))
            warnings.Add($"Predicted image '{extra}' has no truth and is ignored.");
        var listedIds = (predictions.Images.Count == 0 ? truth.Images : predictions.Images).Select(i => i.Id).ToHashSet();
        int orphans = predictions.Annotations.Count(a => !listedIds.Contains(a.ImageId));
        if (orphans > 0)   // a mis-mapped id would otherwise drop an image's false positives silently
            warnings.Add($"{orphans} predicted {(orphans == 1 ? "annotation names an image id" : "annotations name image ids")} that no image lists; ignored.");

        int truthCount = 0, predictionCount = 0, matchedCount = 0, correct = 0;
        long truthPixels = 0, predictedPixels = 0, coveredPixels = 0;
        var confusion = new Dictionary<(string Truth, string Predicted), int>();
        var allDiameters = new DiameterTally();
        var loopDiameters = new DiameterTally();   // pairs predicted as loops: the per-patient statistics' population
        var distalDiameters = new DiameterTally(); // pairs whose truth is in the distal row
        bool truthMarksDistal = truth.Annotations.Any(a => a.Distal is not null);
        var densityPairs = new List<DensityPair>();
        var gradableDensityPairs = new List<DensityPair>();
        var pipelineGradablePairs = new List<DensityPair>();
        var grading = new GradingTally();
        bool missingScale = false;
        bool visibleOnly = UsesVisibility(truth);
        int hiddenDiameters = 0;
        int maskless = 0;
        int onCrowd = 0;

        foreach (var image in truth.Images.OrderBy(i => i.Id))
        {
            string key = DensityTruthCsv.ImageKey(image.FileName);
            CocoImage? predictedImage = predictions.Images.Count == 0 ? image : pairs.GetValueOrDefault(image.Id);
            if (predictions.Images.Count > 0 && predictedImage is null) warnings.Add($"No predictions listed for image '{key}'; all its truth counts as missed.");

            var truthAnnotations = truth.Annotations.Where(a => a.ImageId == image.Id && !a.IsCrowd).ToList();
            var predictedAnnotations = predictedImage is null ? [] : predictions.Annotations.Where(a => a.ImageId == predictedImage.Id).ToList();
            var truthMasks = truthAnnotations.Select(a => CocoInstances.ToMask(a.Segmentation, image.Width, image.Height)).ToList();
            var predictedMasks = predictedAnnotations.Select(a => CocoInstances.ToMask(a.Segmentation, image.Width, image.Height)).ToList();
            var matches = InstanceMatcher.Match(truthMasks, predictedMasks, predictedAnnotations.Select(a => a.Score ?? 1.0).ToList(), options.MinIou);
            var ignored = OnCrowdRegions(truth.Annotations.Where(a => a.ImageId == image.Id && a.IsCrowd)
                .Select(a => CocoInstances.ToMask(a.Segmentation, image.Width, image.Height)).ToList(), predictedMasks, matches, options.MinIou);
            onCrowd += ignored.Count;
            truthCount += truthAnnotations.Count;
            maskless += truthMasks.Count(m => m.Area == 0);
            predictionCount += predictedAnnotations.Count - ignored.Count;
            matchedCount += matches.Count;

            var (t, p, c) = PixelCoverage(truthMasks, predictedMasks, image.Width, image.Height, image.Id);
            truthPixels += t; predictedPixels += p; coveredPixels += c;

            double? umPerPx = options.UmPerPx ?? image.UmPerPx ?? options.DefaultUmPerPx;
            missingScale |= umPerPx is null;
            var truthDiameters = new List<(double?[] Px, double?[] Um)>(truthAnnotations.Count);
            foreach (var a in truthAnnotations) truthDiameters.Add(TruthDiameters(a, umPerPx, options, visibleOnly, ref hiddenDiameters));
            var predictedDiameters = predictedAnnotations.Select(a => PredictedDiameters(a, umPerPx, options)).ToList();
            var truthNames = truthAnnotations.Select(a => ClassName(truth, a.CategoryId, truth, classNameMap)).ToList();
            var predictedNames = predictedAnnotations.Select(a => ClassName(predictions, a.CategoryId, truth, classNameMap)).ToList();
            // The loops' prediction side: the pipeline's own measurements when given (its keypoint gate and frame cuts
            // applied, as in a patient's statistics), else the diameters of the predicted keypoints.
            ImageMeasurement? measurement = pipelineMeasurements is not null && DensityTruthCsv.TryFind(pipelineMeasurements, key, out var pm) ? pm : null;
            IReadOnlyList<CapillaryMeasurement>? measuredHere = null;
            if (measurement?.Capillaries is { } m)
            {
                if (m.Count == predictedAnnotations.Count) measuredHere = m;
                else warnings.Add($"Image '{key}': {m.Count} measured capillaries for {predictedAnnotations.Count} predictions; its loop diameters come from the keypoints.");
            }
            // A patient's statistics take loops from the fields the pipeline grades gradable only.
            bool inStatistics = measurement is null || measurement.Grading.IsGradable;
            var predictedIsLoop = (measuredHere?.Select(c => c.IsLoop) ?? predictedNames.Select(n => IsLoop(n, options)))
                .Select(isLoop => inStatistics && isLoop).ToList();
            var loopPredicted = measuredHere?.Select(Measured).ToList() ?? predictedDiameters;
            for (int i = 0; i < truthDiameters.Count; i++)
            {
                allDiameters.AddTruth(truthDiameters[i]);
                if (inStatistics && IsLoop(truthNames[i], options)) loopDiameters.AddTruth(truthDiameters[i]);
            }
            for (int j = 0; j < predictedDiameters.Count; j++)
            {
                if (ignored.Contains(j)) continue;
                allDiameters.AddPrediction(predictedDiameters[j]);
                if (predictedIsLoop[j]) loopDiameters.AddPrediction(loopPredicted[j]);
            }

            foreach (var match in matches)
            {
                string truthName = truthNames[match.TruthIndex], predictedName = predictedNames[match.PredictionIndex];
                confusion[(truthName, predictedName)] = confusion.GetValueOrDefault((truthName, predictedName)) + 1;
                if (string.Equals(truthName, predictedName, StringComparison.OrdinalIgnoreCase)) correct++;
                var (truthD, predictedD) = (truthDiameters[match.TruthIndex], predictedDiameters[match.PredictionIndex]);
                allDiameters.AddPair(truthD, predictedD);
                if (predictedIsLoop[match.PredictionIndex]) loopDiameters.AddPair(truthD, loopPredicted[match.PredictionIndex]);
                // Both means over the matched pairs, as documented: a missed distal loop has no prediction to compare.
                if (truthAnnotations[match.TruthIndex].Distal == true) distalDiameters.AddPairAndMeans(truthD, predictedD);
            }

            double? truthDensity = truthDensities is not null && DensityTruthCsv.TryFind(truthDensities, key, out var td) ? td : image.DensityPerMm;
            double? predictedDensity = predictedDensities is not null && DensityTruthCsv.TryFind(predictedDensities, key, out var pd) ? pd
                : measurement?.DensityPerMm ?? (predictions.Images.Count > 0 ? predictedImage?.DensityPerMm : null);
            ImageGrading? pipelineGrading = measurement?.Grading;
            if (truthDensity is { } tv && predictedDensity is { } pv)
            {
                var pair = new DensityPair(key, tv, pv);
                densityPairs.Add(pair);
                if (image.Ungradable == false) gradableDensityPairs.Add(pair);
                if (pipelineGrading?.IsGradable == true) pipelineGradablePairs.Add(pair);
            }
            if (image.Ungradable is { } truthUngradable && pipelineGrading is not null) grading.Add(key, !truthUngradable, pipelineGrading);
        }
        if (missingScale) warnings.Add("Some images have no um_per_px and no default was given; their µm errors are left out.");
        // Counted, matched by nothing: a box alone, or a polygon of under 3 points, holds no pixel an IoU could meet.
        if (maskless > 0)
            warnings.Add($"{maskless} truth {(maskless == 1 ? "instance has" : "instances have")} no mask pixel (no segmentation, an empty mask, or a polygon of fewer than 3 points or outside the frame): counted, and missed, since no prediction can overlap {(maskless == 1 ? "it" : "them")}.");
        if (onCrowd > 0)
            warnings.Add($"{onCrowd} unmatched {(onCrowd == 1 ? "prediction lies" : "predictions lie")} on crowd truth regions (iscrowd) and {(onCrowd == 1 ? "is" : "are")} left out of the counts, as COCO's evaluation leaves them.");
        if (hiddenDiameters > 0)
            warnings.Add($"{hiddenDiameters} truth {(hiddenDiameters == 1 ? "diameter is" : "diameters are")} left out: a keypoint of each is labelled but not visible (visibility 1, for example outside the frame).");

        double? precision = predictionCount == 0 ? null : (double)matchedCount / predictionCount;
        double? recall = truthCount == 0 ? null : (double)matchedCount / truthCount;
        // 2TP / (truths + predictions): 0 when one side is empty (no predictions for a truth is no detection at all).
        double? f1 = truthCount + predictionCount > 0 ? 2.0 * matchedCount / (truthCount + predictionCount) : null;
        var labels = confusion.Keys.SelectMany(k => new[] { k.Truth, k.Predicted }).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        var matrix = labels.Select(tl => (IReadOnlyList<int>)labels.Select(pl => confusion.GetValueOrDefault((tl, pl))).ToArray()).ToArray();

        return new EvaluationReport(
            truth.Images.Count,
            new DetectionMetrics(truthCount, predictionCount, matchedCount, precision, recall, f1),
            new SegmentationMetrics(truthPixels, predictedPixels, coveredPixels,
                truthPixels == 0 ? null : (double)coveredPixels / truthPixels, predictedPixels == 0 ? null : (double)coveredPixels / predictedPixels),
            new ClassificationMetrics(matchedCount, correct, matchedCount == 0 ? null : (double)correct / matchedCount, labels, matrix),
            allDiameters.Metrics(),
            DensityMetrics.Of(densityPairs),
            warnings)
        {
            GradableDensity = truth.Images.Any(i => i.Ungradable is not null) ? DensityMetrics.Of(gradableDensityPairs) : null,
            PipelineGradableDensity = pipelineMeasurements is null ? null : DensityMetrics.Of(pipelineGradablePairs),
            Grading = grading.Result(),
            LoopDiameters = loopDiameters.Metrics(),
            DistalRowDiameters = truthMarksDistal ? distalDiameters.Metrics() : null,
        };
    }

    /// <summary>
    /// Each truth image's predicted image, one to one: a predicted image that two truth images would both take (listed
    /// by a path shorter than theirs, "R2/1.png" for "p1/R2/1.png" and "p2/R2/1.png") pairs with neither, and says so;
    /// its annotations counted for both before.
    /// </summary>
    /// <returns>The pairs by truth image id, and the ids of the predicted images some truth image claims.</returns>
    private static (Dictionary<long, CocoImage> Pairs, HashSet<long> Claimed) PairImages(IReadOnlyList<CocoImage> truthImages,
        IReadOnlyDictionary<string, CocoImage> predictedImages, List<string> warnings)
    {
        var claims = truthImages
            .Select(t => (Truth: t, Predicted: DensityTruthCsv.TryFind(predictedImages, t.FileName, out var p) ? p : null))
            .Where(c => c.Predicted is not null)
            .GroupBy(c => c.Predicted!.Id).ToList();
        var pairs = new Dictionary<long, CocoImage>();
        foreach (var claim in claims)
        {
            if (claim.Count() == 1) { pairs[claim.First().Truth.Id] = claim.First().Predicted!; continue; }
            warnings.Add($"Predicted image '{DensityTruthCsv.ImageKey(claim.First().Predicted!.FileName)}' could be any of " +
                $"{string.Join(", ", claim.Select(c => $"'{DensityTruthCsv.ImageKey(c.Truth.FileName)}'").Order(StringComparer.Ordinal))}; " +
                "it is paired with none: list predictions under their full paths.");
        }
        return (pairs, claims.Select(c => c.Key).ToHashSet());
    }

    /// <summary>
    /// A truth diameter counts where both of its keypoints are visible. COCO's visibility 1 is "labelled, not visible"
    /// (the simulator's keypoints cut off by the frame): nothing in the image shows that edge, so no prediction can
    /// measure it. A truth that never uses visibility 2 does not tell the two apart, and its labelled keypoints count.
    /// Diameters the truth gives in µm are used as they are, for the diameters its keypoints allow.
    /// </summary>
    private static (double?[] Px, double?[] Um) TruthDiameters(CocoAnnotation a, double? umPerPx, EvaluationOptions options,
        bool visibleOnly, ref int hidden)
    {
        double?[] given = [a.ApicalDiameterUm, a.ArterialDiameterUm, a.VenousDiameterUm];
        if (a.Keypoints is null) return (new double?[3], given);
        var labelled = Diameters(a.Keypoints, 1, 0.5f, umPerPx, options);        // visibility 1 or 2
        var (px, um) = visibleOnly ? Diameters(a.Keypoints, 2, 0.75f, umPerPx, options) : labelled;   // visibility 2
        for (int k = 0; k < um.Length; k++)
        {
            if (px[k] is not null) um[k] = given[k] ?? um[k];
            else if (labelled.Px[k] is not null) { um[k] = null; hidden++; }
            else um[k] = given[k];   // no keypoints for it: the given value alone, as before
        }
        return (px, um);
    }

    private static (double?[] Px, double?[] Um) Measured(CapillaryMeasurement c) =>
        ([c.ApicalDiameterPx, c.ArterialDiameterPx, c.VenousDiameterPx], [c.ApicalDiameterUm, c.ArterialDiameterUm, c.VenousDiameterUm]);

    private static bool UsesVisibility(CocoDataset truth) =>
        truth.Annotations.Any(a => a.Keypoints is { } k && Enumerable.Range(0, k.Length / 3).Any(i => k[3 * i + 2] >= 2));

    /// <summary>
    /// A predicted keypoint scoring 0 (COCO's [0, 0, 0] for one not given, a logit clamped to 0) is absent whatever
    /// the gate: at the image's corner it made an apical diameter of hundreds of pixels.
    /// </summary>
    private static (double?[] Px, double?[] Um) PredictedDiameters(CocoAnnotation a, double? umPerPx, EvaluationOptions options) =>
        a.Keypoints is null ? (new double?[3], new double?[3])
            : Diameters(a.Keypoints, 1, Math.Max((float)options.MinPredictionKeypointScore, float.Epsilon), umPerPx, options);

    /// <summary>Diameters from keypoints whose third value, divided by <paramref name="fullScale"/>, reaches <paramref name="minConfidence"/>.</summary>
    private static (double?[] Px, double?[] Um) Diameters(float[] keypoints, float fullScale, float minConfidence, double? umPerPx, EvaluationOptions options)
    {
        var scaled = (float[])keypoints.Clone();
        for (int i = 2; i < scaled.Length; i += 3) scaled[i] /= fullScale;
        var d = LoopDiameters.FromKeypoints(CocoInstances.ToKeypoints(scaled), minConfidence, options.LimbRoles);
        double?[] px = [d.ApicalPx, d.ArterialPx, d.VenousPx];
        return (px, px.Select(v => v * umPerPx).ToArray());
    }

    /// <summary>
    /// The unmatched predictions that lie on a crowd region (a cluster annotated as one): as COCO's evaluation does,
    /// neither true nor false, when the share of the prediction inside the region reaches the matching threshold.
    /// </summary>
    private static HashSet<int> OnCrowdRegions(List<InstanceMask> crowds, List<InstanceMask> predicted, IReadOnlyList<InstanceMatch> matches, double minIou)
    {
        var ignored = new HashSet<int>();
        if (crowds.Count == 0) return ignored;
        var matched = matches.Select(m => m.PredictionIndex).ToHashSet();
        for (int j = 0; j < predicted.Count; j++)
            if (!matched.Contains(j) && predicted[j].Area > 0
                && crowds.Any(c => c.IntersectionArea(predicted[j]) is var shared and > 0 && (double)shared / predicted[j].Area >= minIou))
                ignored.Add(j);
        return ignored;
    }

    private static bool IsLoop(string className, EvaluationOptions options) =>
        options.Categories.TryGet(className, out var category) && category.IsLoop();

    private static string ClassName(CocoDataset dataset, long categoryId, CocoDataset fallback, Dictionary<string, string> map)
    {
        string name = (dataset.Categories.Count > 0 ? dataset.Category(categoryId) : fallback.Category(categoryId))?.Name ?? $"category {categoryId}";
        return (map.TryGetValue(name, out var mapped) ? mapped : name).ToLowerInvariant();
    }

    private static (long Truth, long Predicted, long Covered) PixelCoverage(List<InstanceMask> truth, List<InstanceMask> predicted, int width,
        int height, long imageId)
    {
        if (width <= 0 || height <= 0)
        {
            // The frame the masks reach, bounded as a sized image is (CocoParser): two far-apart masks of an image without a
            // size made a frame of 1e10 pixels, whose int product wrapped.
            long reachX = truth.Concat(predicted).Select(m => (long)m.Left + m.Width).DefaultIfEmpty(0).Max();
            long reachY = truth.Concat(predicted).Select(m => (long)m.Top + m.Height).DefaultIfEmpty(0).Max();
            if (reachX * reachY > CocoParser.MaxMaskPixels)
                throw new FormatException($"Image {imageId} gives no width and height, and its masks reach {reachX}×{reachY}: over the " +
                    $"{CocoParser.MaxMaskPixels:N0} pixels a mask may cover. Give the image's size.");
            (width, height) = ((int)reachX, (int)reachY);
        }
        var truthBits = Paint(truth, width, height);
        var predictedBits = Paint(predicted, width, height);
        long t = 0, p = 0, c = 0;
        for (int i = 0; i < truthBits.Length; i++)
        {
            if (truthBits[i]) t++;
            if (predictedBits[i]) p++;
            if (truthBits[i] && predictedBits[i]) c++;
        }
        return (t, p, c);
    }

    private static bool[] Paint(List<InstanceMask> masks, int width, int height)
    {
        var bits = new bool[width * height];
        foreach (var mask in masks)
        {
            var source = mask.Bits;
            for (int y = 0; y < mask.Height; y++)
                for (int x = 0; x < mask.Width; x++)
                {
                    int ix = mask.Left + x, iy = mask.Top + y;
                    if (source[y * mask.Width + x] && ix >= 0 && iy >= 0 && ix < width && iy < height) bits[iy * width + ix] = true;
                }
        }
        return bits;
    }

}
