using System.Globalization;
using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Geometry;
using NfcPipeline.Core.Options;

namespace NfcPipeline.Core.Measurements;

/// <summary>Measures one image: every capillary, the distal row and its density, hemorrhages, gradability and quality.</summary>
public sealed class ImageMeasurer
{
    private readonly CapillaryMeasurer _capillaries;
    private readonly DistalRowFinder _distalRow;
    private readonly GradingOptions _grading;

    public ImageMeasurer(MeasurementOptions? measurement = null, DistalRowOptions? distalRow = null, GradingOptions? grading = null)
    {
        _capillaries = new CapillaryMeasurer(measurement);
        _distalRow = new DistalRowFinder(distalRow);
        _grading = grading ?? GradingOptions.Default;
        var problems = _grading.Validate();
        if (problems.Count > 0) throw new ArgumentException("Invalid grading options: " + string.Join(" ", problems), nameof(grading));
    }

    public ImageMeasurer(AnalysisOptions options) : this(options.Measurement, options.DistalRow, options.Grading) { }

    /// <summary>Measures an image of <paramref name="width"/> × <paramref name="height"/> pixels; the row line is clipped to that frame.</summary>
    public ImageMeasurement Measure(IReadOnlyList<CapillaryInstance> instances, Calibration calibration, int width, int height) =>
        Measure(instances, calibration, width, height, FieldOfView.Rectangle(width, height));

    /// <summary>
    /// As above, with an explicit field of view (for example a rotated field) for clipping the row line. Loops cut by the
    /// frame (<see cref="FrameCut"/>) are still found at the edges of the <paramref name="width"/> × <paramref name="height"/>
    /// image, not at the field's: a mask ends where the picture does.
    /// </summary>
    public ImageMeasurement Measure(IReadOnlyList<CapillaryInstance> instances, Calibration calibration, int width, int height, FieldOfView field)
    {
        Calibration.ThrowIfUnscaled(calibration, nameof(calibration));
        var capillaries = instances.Select((instance, i) => _capillaries.Measure(instance, calibration, i)).ToArray();
        var row = _distalRow.Find(instances, capillaries, calibration, field);
        // A side the row's axis only guesses at is no side to find loops cut on (DistalRow.DirectionUnknown).
        if (_capillaries.Options.ApexCutByFrameMarginPx is { } margin && !row.DirectionUnknown)
        {
            // The first row gives the field's distal axis; loops cut on that side lose their apex measures and leave the row.
            // A loop without an apex keypoint is cut when its mask's distal end is on the frame (the finder's apex for it).
            var cut = capillaries.Where(c => c.Category != ClinicalCategory.Hemorrhage && (c.Apex is { } up
                    ? FrameCut.ApexOutside(instances[c.Index].Mask, up, row.DistalAxis, width, height, margin)
                    : FrameCut.TipOnFrame(instances[c.Index].Mask, row.DistalAxis, width, height, margin)))
                .Select(c => c.Index).ToHashSet();
            if (cut.Count > 0)
            {
                capillaries = capillaries.Select(c => cut.Contains(c.Index) ? _capillaries.WithApexCutByFrame(c, calibration) : c).ToArray();
                row = _distalRow.Find(instances, capillaries, calibration, field, earlierPass: row);
            }
        }
        var grading = Grade(capillaries);
        var (quality, notes) = AssessQuality(capillaries, row, grading);
        return new ImageMeasurement
        {
            ImageWidth = width,
            ImageHeight = height,
            MicrometresPerPixel = calibration.MicrometresPerPixel,
            Capillaries = capillaries,
            DistalRow = row,
            Grading = grading,
            Quality = quality,
            QualityNotes = notes,
        };
    }

    private ImageGrading Grade(IReadOnlyList<CapillaryMeasurement> capillaries)
    {
        int blurred = capillaries.Count(c => c.Category == ClinicalCategory.Ungradable);
        if (capillaries.Count > 0 && (double)blurred / capillaries.Count >= _grading.MaxUngradableShare)
            return new ImageGrading(false, UngradableReason.BlurDominates,
                $"{blurred} of {capillaries.Count} instances are blurred/ungradable (share {ThresholdText.Apart((double)blurred / capillaries.Count, _grading.MaxUngradableShare)} ≥ {_grading.MaxUngradableShare.ToString(CultureInfo.InvariantCulture)}).");
        // Loops only: a hemorrhage is no row candidate, so a field holding nothing else would be an avascular 0.
        // Compared as the float the model gave: 0.35f widened is 0.3499999, below a gate of 0.35.
        int confident = capillaries.Count(c => c.Category.IsLoop() && (float)c.Score >= (float)_grading.ConfidentInstanceScore);
        if (confident < _grading.MinConfidentInstances)
            return new ImageGrading(false, UngradableReason.TooFewConfidentInstances,
                $"{confident} loop(s) with score ≥ {_grading.ConfidentInstanceScore.ToString(CultureInfo.InvariantCulture)}, fewer than the {_grading.MinConfidentInstances} needed.");
        return ImageGrading.Gradable;
    }

    private (ImageQuality, IReadOnlyList<string>) AssessQuality(IReadOnlyList<CapillaryMeasurement> capillaries, DistalRow row, ImageGrading grading)
    {
        if (!grading.IsGradable) return (ImageQuality.Ungradable, [grading.Explanation]);
        var notes = new List<string>();
        if (row.Count < _grading.MinDistalForGoodQuality)
            notes.Add($"Sparse distal row: {row.Count} capillar{(row.Count == 1 ? "y" : "ies")}, fewer than {_grading.MinDistalForGoodQuality}.");
        if (row.LineTooShort)
            notes.Add($"The distal row line crosses only {row.LineLengthMm!.Value.ToString("0.###", CultureInfo.InvariantCulture)} mm of the field, less than the {_distalRow.Options.MinRowLengthMm.ToString(CultureInfo.InvariantCulture)} mm needed; no density.");
        else if (row.Count > 0 && row.DensityPerMm is null)
            notes.Add("The distal row line does not cross the field of view; no density.");
        if (row.Unplaced > 0)
            notes.Add($"{row.Unplaced} loop(s) have no apex to place (no confident apex keypoint, an empty mask); not counted in the row.");
        if (row.Count == 0 && row.DensityPerMm is null && capillaries.Any(c => c.ApexCutByFrame))
            notes.Add("Every loop's apex lies outside the frame; no density.");
        int blurred = capillaries.Count(c => c.Category == ClinicalCategory.Ungradable);
        if (capillaries.Count > 0 && (double)blurred / capillaries.Count >= _grading.LimitedUngradableShare)
            notes.Add($"{blurred} of {capillaries.Count} instances are blurred.");
        return (notes.Count == 0 ? ImageQuality.Good : ImageQuality.Limited, notes);
    }
}
