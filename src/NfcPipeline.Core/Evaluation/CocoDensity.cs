using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Measurements;

namespace NfcPipeline.Core.Evaluation;

/// <summary>Measures the density of every image of a predictions file the way the pipeline does, for density agreement.</summary>
public static class CocoDensity
{
    /// <summary>
    /// Density per image file name. Image sizes and µm per pixel come from <paramref name="truth"/> (the predictions'
    /// own images where they list them), else <paramref name="defaultUmPerPx"/>; images without a scale are skipped.
    /// </summary>
    public static IReadOnlyDictionary<string, double> Measure(CocoDataset predictions, CocoDataset truth, ImageMeasurer measurer, double? defaultUmPerPx = null)
    {
        var result = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        var source = predictions.Categories.Count > 0 ? predictions : predictions with { Categories = truth.Categories };
        var predictedByKey = predictions.Images.GroupBy(i => DensityTruthCsv.ImageKey(i.FileName), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.First(), StringComparer.OrdinalIgnoreCase);
        foreach (var image in truth.Images)
        {
            string key = DensityTruthCsv.ImageKey(image.FileName);
            CocoImage? predictedImage = null;
            if (predictions.Images.Count > 0 && !DensityTruthCsv.TryFind(predictedByKey, key, out predictedImage)) continue;
            long predictedId = predictedImage?.Id ?? image.Id;
            double? umPerPx = predictedImage?.UmPerPx ?? image.UmPerPx ?? defaultUmPerPx;
            if (umPerPx is not { } scale || image.Width <= 0 || image.Height <= 0) continue;
            var instances = source.Annotations.Where(a => a.ImageId == predictedId)
                .Select(a => CocoInstances.ToCapillaryInstance(a, source, image.Width, image.Height)).ToList();
            var measurement = measurer.Measure(instances, new Calibration(scale), image.Width, image.Height);
            if (measurement.Grading.IsGradable && measurement.DensityPerMm is { } density) result[key] = density;
        }
        return result;
    }
}
