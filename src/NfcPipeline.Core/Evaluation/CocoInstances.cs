using NfcPipeline.Core.Domain;

namespace NfcPipeline.Core.Evaluation;

/// <summary>Turns COCO annotations into masks and <see cref="CapillaryInstance"/> records, so COCO files can be measured like model output.</summary>
public static class CocoInstances
{
    /// <summary>The annotation's mask, cropped to its foreground; polygons are rasterised in a width × height frame.</summary>
    public static InstanceMask ToMask(CocoSegmentation? segmentation, int width, int height)
    {
        switch (segmentation)
        {
            case CocoRle rle:
                return Crop(CocoRleCodec.ToBits(rle), rle.Width, rle.Height);
            case CocoPolygons polygons:
                if (width <= 0 || height <= 0) throw new ArgumentException("Polygons need the image's width and height.", nameof(width));
                return Crop(PolygonRasterizer.Rasterize(polygons.Polygons, width, height), width, height);
            default:
                return new InstanceMask(0, 0, 0, 0, []);
        }
    }

    /// <summary>
    /// Keypoint confidence is the third value clamped to [0, 1]: truth visibility 1 or 2 becomes 1, 0 stays 0, and a
    /// prediction's score is kept. The class probabilities are one-hot over the dataset's categories.
    /// </summary>
    public static CapillaryInstance ToCapillaryInstance(CocoAnnotation annotation, CocoDataset dataset, int width, int height)
    {
        var names = dataset.Categories.Select(c => c.Name).ToArray();
        int classIndex = Array.FindIndex(dataset.Categories.ToArray(), c => c.Id == annotation.CategoryId);
        if (classIndex < 0) throw new FormatException($"Annotation {annotation.Id} has category {annotation.CategoryId}, which the dataset does not define.");
        var probabilities = new float[names.Length];
        probabilities[classIndex] = 1;
        var mask = ToMask(annotation.Segmentation, width, height);
        var box = annotation.Bbox is { } b
            ? new BoundingBox((float)b[0], (float)b[1], (float)(b[0] + b[2]), (float)(b[1] + b[3]))
            : mask.TightBox();
        return new CapillaryInstance
        {
            Mask = mask,
            Box = box,
            ClassNames = names,
            ClassProbabilities = probabilities,
            Score = (float)(annotation.Score ?? 1.0),
            Keypoints = ToKeypoints(annotation.Keypoints),
        };
    }

    public static Keypoint[] ToKeypoints(float[]? values)
    {
        var keypoints = new Keypoint[KeypointNames.Count];
        if (values is null) return keypoints;
        for (int i = 0; i < KeypointNames.Count; i++)
            keypoints[i] = new Keypoint(values[3 * i], values[3 * i + 1], Math.Clamp(values[3 * i + 2], 0f, 1f));
        return keypoints;
    }

    private static InstanceMask Crop(bool[] bits, int width, int height)
    {
        int minX = int.MaxValue, minY = int.MaxValue, maxX = -1, maxY = -1;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                if (bits[y * width + x]) { minX = Math.Min(minX, x); maxX = Math.Max(maxX, x); minY = Math.Min(minY, y); maxY = Math.Max(maxY, y); }
        if (maxX < 0) return new InstanceMask(0, 0, 0, 0, []);
        int w = maxX - minX + 1, h = maxY - minY + 1;
        var crop = new bool[w * h];
        for (int y = 0; y < h; y++)
            Array.Copy(bits, (minY + y) * width + minX, crop, y * w, w);
        return new InstanceMask(minX, minY, w, h, crop);
    }
}
