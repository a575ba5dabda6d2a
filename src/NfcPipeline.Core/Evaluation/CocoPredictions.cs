using NfcPipeline.Core.Domain;

namespace NfcPipeline.Core.Evaluation;

/// <summary>One analysed image, as the evaluator's predictions need it.</summary>
public sealed record PredictedImage(long ImageId, string FileName, int Width, int Height, IReadOnlyList<CapillaryInstance> Instances);

/// <summary>Builds a COCO prediction set from decoded instances, so truth and predictions go through one evaluator.</summary>
public static class CocoPredictions
{
    public static CocoDataset Build(IReadOnlyList<PredictedImage> images, IReadOnlyList<string> classNames)
    {
        var categories = classNames.Select((name, i) => new CocoCategory(i + 1, name, KeypointNames.Canonical)).ToList();
        var annotations = new List<CocoAnnotation>();
        foreach (var image in images)
            foreach (var instance in image.Instances)
                annotations.Add(new CocoAnnotation
                {
                    Id = annotations.Count + 1,
                    ImageId = image.ImageId,
                    CategoryId = instance.ClassIndex + 1,
                    Score = instance.Score,
                    Segmentation = ToRle(instance.Mask, image.Width, image.Height),
                    Bbox = [instance.Box.X1, instance.Box.Y1, instance.Box.Width, instance.Box.Height],
                    Keypoints = instance.Keypoints.SelectMany(k => new[] { k.X, k.Y, k.Confidence }).ToArray(),
                });
        return new CocoDataset(images.Select(i => new CocoImage(i.ImageId, i.FileName, i.Width, i.Height)).ToList(), categories, annotations, []);
    }

    /// <summary>The crop pasted into a full-frame mask, run-length encoded as COCO does.</summary>
    public static CocoRle ToRle(InstanceMask mask, int width, int height)
    {
        var bits = new bool[width * height];
        var crop = mask.Bits;
        for (int y = 0; y < mask.Height; y++)
        {
            int iy = mask.Top + y;
            if (iy < 0 || iy >= height) continue;
            for (int x = 0; x < mask.Width; x++)
            {
                int ix = mask.Left + x;
                if (ix >= 0 && ix < width && crop[y * mask.Width + x]) bits[iy * width + ix] = true;
            }
        }
        return CocoRleCodec.FromBits(bits, height, width);
    }
}
