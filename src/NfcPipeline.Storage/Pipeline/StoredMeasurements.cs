using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Geometry;
using NfcPipeline.Core.Measurements;

namespace NfcPipeline.Storage.Pipeline;

internal sealed record StoredImageRow(long ImageId, string? Finger, string RelPath, string State, string? ErrorCode, string? Error,
    byte[] Sha256, double? UmPerPx, int? Width, int? Height, double? DensityPerMm, double? RowLengthMm, bool? Gradable,
    string? UngradableCode, string? UngradableReason, string? Quality, string? DistalAxisSource, string? QcExclusion);

internal sealed record StoredCapillaryRow(byte[] ImageSha256, int InstanceIndex, string ClassName, string Category, float Score,
    double? ApicalUm, double? ArterialUm, double? VenousUm, double? LoopHeightUm, double? LoopWidthUm, bool? Dilated, bool? Giant, bool Distal);

/// <summary>
/// Rebuilds the per-image measurements that patient aggregation reads from stored rows, so a patient can be
/// aggregated by whichever worker finishes its last image. Geometry that aggregation never reads (the distal axis,
/// band widths, per-keypoint pixel distances) is not stored and is left at neutral values. A field a reviewer excluded
/// keeps its measurements but is ungradable, with the reviewer's reason.
/// </summary>
internal static class StoredMeasurements
{
    public static ImageMeasurement Rebuild(StoredImageRow image, IReadOnlyList<StoredCapillaryRow> capillaries)
    {
        var measured = capillaries.OrderBy(c => c.InstanceIndex).Select(c => new CapillaryMeasurement
        {
            Index = c.InstanceIndex,
            ClassName = c.ClassName,
            Category = Enum.Parse<ClinicalCategory>(c.Category, ignoreCase: true),
            Score = c.Score,
            ApicalDiameterUm = c.ApicalUm,
            ArterialDiameterUm = c.ArterialUm,
            VenousDiameterUm = c.VenousUm,
            LoopHeightUm = c.LoopHeightUm,
            LoopWidthUm = c.LoopWidthUm,
            IsDilated = c.Dilated,
            IsGiant = c.Giant,
        }).ToList();
        bool gradable = (image.Gradable ?? false) && image.QcExclusion is null;
        return new ImageMeasurement
        {
            ImageWidth = image.Width ?? 0,
            ImageHeight = image.Height ?? 0,
            MicrometresPerPixel = image.UmPerPx ?? 0,
            Capillaries = measured,
            DistalRow = new DistalRow
            {
                Indices = capillaries.Where(c => c.Distal).Select(c => c.InstanceIndex).Order().ToList(),
                DistalAxis = new Point2(0, -1),
                AxisSource = Enum.TryParse<DistalAxisSource>(image.DistalAxisSource, out var source) ? source : DistalAxisSource.ImageUp,
                LineLengthMm = image.RowLengthMm,
                DensityPerMm = image.DensityPerMm,
                BandPx = 0,
                LateralWindowPx = 0,
            },
            Grading = gradable ? ImageGrading.Gradable
                : image.QcExclusion is { } exclusion ? new ImageGrading(false, UngradableReason.ExcludedAtReview, $"Excluded at review: {exclusion}")
                : new ImageGrading(false,
                Enum.TryParse<UngradableReason>(image.UngradableCode, out var reason) ? reason : UngradableReason.TooFewConfidentInstances,
                image.UngradableReason ?? "Ungradable."),
            Quality = image.QcExclusion is not null ? ImageQuality.Ungradable
                : Enum.TryParse<ImageQuality>(image.Quality, out var quality) ? quality : gradable ? ImageQuality.Good : ImageQuality.Ungradable,
            QualityNotes = [],
        };
    }
}
