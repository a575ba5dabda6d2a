namespace NfcPipeline.Core.Evaluation;

public sealed record DetectionMetrics(int TruthCount, int PredictionCount, int MatchedCount, double? Precision, double? Recall, double? F1);

/// <summary>Pixel level: how much of the union of truth foreground the union of predicted foreground covers.</summary>
public sealed record SegmentationMetrics(long TruthPixels, long PredictedPixels, long CoveredTruthPixels, double? Sensitivity, double? PixelPrecision);

/// <summary>Class accuracy on matched pairs; <see cref="Confusion"/>[truth][predicted] over <see cref="Labels"/>.</summary>
public sealed record ClassificationMetrics(int MatchedCount, int CorrectCount, double? Accuracy, IReadOnlyList<string> Labels, IReadOnlyList<IReadOnlyList<int>> Confusion);

/// <summary>
/// Diameter errors. MAE: the mean of |pred − truth| over matched pairs. Error of means: NFCMTL's figure,
/// |mean(pred) − mean(truth)| over every instance of each side that has the diameter.
/// </summary>
public sealed record DiameterMetrics(string Diameter, int PairCount, double? MaePx, double? MaeUm,
    int TruthCount, int PredictionCount, double? ErrorOfMeansPx, double? ErrorOfMeansUm);

public sealed record DensityPair(string Image, double Truth, double Predicted);

public sealed record DensityMetrics(int PairCount, double? Mae, double? Pearson, IReadOnlyList<DensityPair> Pairs)
{
    public static DensityMetrics Of(IReadOnlyList<DensityPair> pairs)
    {
        if (pairs.Count == 0) return new DensityMetrics(0, null, null, pairs);
        double mae = pairs.Average(p => Math.Abs(p.Predicted - p.Truth));
        return new DensityMetrics(pairs.Count, mae, PearsonR(pairs.Select(p => p.Truth).ToArray(), pairs.Select(p => p.Predicted).ToArray()), pairs);
    }

    /// <summary>Pearson's r; null with fewer than 2 pairs or when either side does not vary.</summary>
    public static double? PearsonR(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count != y.Count) throw new ArgumentException("Both samples need the same length.", nameof(y));
        if (x.Count < 2) return null;
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Count; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxx > 0 && syy > 0 ? sxy / Math.Sqrt(sxx * syy) : null;
    }
}

/// <summary>An image whose gradability the pipeline and the truth disagree on; <see cref="Reason"/> is the pipeline's.</summary>
public sealed record GradingDisagreement(string Image, bool TruthGradable, bool PipelineGradable, string? Reason);

/// <summary>
/// The pipeline's image grading against the truth's, over the images the truth grades: how many both call gradable,
/// both ungradable, and where they differ.
/// </summary>
public sealed record GradingAgreement(int ImageCount, int BothGradable, int BothUngradable, IReadOnlyList<GradingDisagreement> Disagreements)
{
    public double? Agreement => ImageCount == 0 ? null : (double)(BothGradable + BothUngradable) / ImageCount;
}

public sealed record EvaluationReport(
    int ImageCount,
    DetectionMetrics Detection,
    SegmentationMetrics Segmentation,
    ClassificationMetrics Classification,
    IReadOnlyList<DiameterMetrics> Diameters,
    DensityMetrics Density,
    IReadOnlyList<string> Warnings)
{
    /// <summary>
    /// Density over the images the truth marks gradable, the ones the pipeline's per-patient density uses; null when the
    /// truth marks none either way.
    /// </summary>
    public DensityMetrics? GradableDensity { get; init; }

    /// <summary>
    /// Density over the images the pipeline itself grades gradable, the densities it reports and aggregates; null when
    /// no grading was given. Read it with <see cref="Grading"/>: a gate that drops hard images would flatter it.
    /// </summary>
    public DensityMetrics? PipelineGradableDensity { get; init; }

    /// <summary>The pipeline's grading against the truth's; null when either is missing.</summary>
    public GradingAgreement? Grading { get; init; }

    /// <summary>
    /// <see cref="Diameters"/> over the matched pairs whose prediction is a loop (normal or abnormal, by
    /// <see cref="EvaluationOptions.Categories"/>): the capillaries whose diameters the per-patient statistics use, so
    /// blurred ones and hemorrhages are left out. Each side's mean is over its own loops. Given the pipeline's
    /// measurements, the prediction side is what it measured: its categories and values, so a diameter it withheld
    /// (keypoint gate, apex cut by the frame) is not paired; and the images it grades ungradable are left out, truth
    /// and prediction, as the statistics leave those fields out.
    /// </summary>
    public IReadOnlyList<DiameterMetrics> LoopDiameters { get; init; } = [];

    /// <summary>
    /// <see cref="Diameters"/> over the matched pairs whose truth capillary belongs to the distal row (the truth's
    /// <c>distal</c> flag), the row capillaroscopy reads; the prediction side's mean is over those pairs' predictions.
    /// Null when the truth marks no capillary either way.
    /// </summary>
    public IReadOnlyList<DiameterMetrics>? DistalRowDiameters { get; init; }
}
