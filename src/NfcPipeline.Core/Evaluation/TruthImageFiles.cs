namespace NfcPipeline.Core.Evaluation;

/// <summary>The images a truth file names, as files under the images folder an evaluation reads them from.</summary>
public static class TruthImageFiles
{
    /// <summary>
    /// Why <paramref name="fileName"/> cannot name a file under the images folder, or null: empty, absolute (the
    /// annotating machine's path, which Path.Combine would follow out of the folder), or climbing out through "..".
    /// Backslashes are folder separators (a truth written on Windows).
    /// </summary>
    public static string? Problem(string fileName)
    {
        string path = fileName.Trim().Replace('\\', '/');
        if (path.Length == 0) return "names no file";
        if (path.StartsWith('/') || path is [_, ':', ..]) return "is an absolute path; give paths relative to the images folder";
        if (path.Split('/').Contains("..")) return "climbs out of the images folder ('..')";
        return null;
    }

    /// <summary>The file under <paramref name="imagesFolder"/> that <paramref name="fileName"/> names (see <see cref="Problem"/> first).</summary>
    public static string PathUnder(string imagesFolder, string fileName) =>
        Path.Combine(imagesFolder, DensityTruthCsv.ImageKey(fileName).Replace('/', Path.DirectorySeparatorChar));

    /// <summary>
    /// The truth with each file once: an image naming a file an earlier one names (by case, or './a.png' beside
    /// 'a.png') is left out with its annotations, and <paramref name="warnings"/> says so. Both kept, the two claimed
    /// one analysis and the evaluation paired neither.
    /// </summary>
    public static CocoDataset FirstOfEachFile(CocoDataset truth, ICollection<string> warnings)
    {
        var first = new Dictionary<string, CocoImage>(StringComparer.OrdinalIgnoreCase);
        var dropped = new HashSet<long>();
        foreach (var image in truth.Images)
        {
            var key = DensityTruthCsv.ImageKey(image.FileName);
            if (first.TryAdd(key, image)) continue;
            var kept = first[key];
            int annotations = truth.Annotations.Count(a => a.ImageId == image.Id);
            dropped.Add(image.Id);
            warnings.Add($"Image {image.Id} ({image.FileName}) names the file of image {kept.Id} ({kept.FileName}); it is left out, " +
                $"with its {annotations} annotation(s).");
        }
        return dropped.Count == 0 ? truth : truth with
        {
            Images = truth.Images.Where(i => !dropped.Contains(i.Id)).ToArray(),
            Annotations = truth.Annotations.Where(a => !dropped.Contains(a.ImageId)).ToArray(),
        };
    }
}
