using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Geometry;

namespace NfcPipeline.Core.Tests.Support;

/// <summary>Builds synthetic capillary loops with known geometry, at any position and orientation.</summary>
public static class Loops
{
    public static readonly IReadOnlyList<string> Classes = ["hairpin", "tortuous", "ramified", "hemorrhage", "blur"];

    /// <summary>
    /// A symmetric loop whose outer apex edge U is at <paramref name="apex"/>, pointing along the image's "up" turned by
    /// <paramref name="degrees"/>. Sizes in pixels: the limbs sit half-way down, the limb bottoms at <paramref name="height"/>.
    /// </summary>
    /// <param name="leftLimb">Its width in px; by default 5, and for an apex of 20 px or more 0.8 of it, as a giant's
    /// homogeneously enlarged limbs are (right: 6, or 0.85 of it); <paramref name="width"/> by default fits the limbs.</param>
    public static CapillaryInstance Loop(Point2 apex, double degrees = 0, double apical = 8, double? leftLimb = null, double? rightLimb = null,
        double height = 90, double? width = null, string className = "hairpin", float score = 0.9f, float confidence = 0.9f)
    {
        double left = leftLimb ?? (apical >= 20 ? 0.8 * apical : 5), right = rightLimb ?? (apical >= 20 ? 0.85 * apical : 6);
        return LoopOf(apex, degrees, apical, left, right, height, width ?? Math.Max(30, left + right + 10), className, score, confidence);
    }

    private static CapillaryInstance LoopOf(Point2 apex, double degrees, double apical, double leftLimb, double rightLimb,
        double height, double width, string className, float score, float confidence)
    {
        Point2 distal = FieldOfView.Rotate(new Point2(0, -1), degrees, default);
        Point2 along = FieldOfView.Rotate(new Point2(1, 0), degrees, default);
        Point2 At(double u, double v) => apex + along * u + distal * v;
        double half = width / 2;
        Point2[] points =
        [
            At(0, 0), At(0, -apical),
            At(-half, -height / 2), At(-half + leftLimb, -height / 2),
            At(half - rightLimb, -height / 2), At(half, -height / 2),
            At(-half + leftLimb / 2, -height), At(half - rightLimb / 2, -height),
        ];
        return Instance(points.Select(p => new Keypoint((float)p.X, (float)p.Y, confidence)).ToArray(), className, score);
    }

    public static CapillaryInstance Instance(Keypoint[] keypoints, string className = "hairpin", float score = 0.9f)
    {
        var probabilities = new float[Classes.Count];
        int index = Classes.ToList().IndexOf(className);
        if (index < 0) throw new ArgumentException($"Test class '{className}' is not in the test model.", nameof(className));
        probabilities[index] = 1;
        var u = keypoints[0];
        var mask = new InstanceMask((int)Math.Floor(u.X), (int)Math.Floor(u.Y), 1, 1, [true]);
        return new CapillaryInstance
        {
            Mask = mask,
            Box = mask.TightBox(),
            ClassNames = Classes,
            ClassProbabilities = probabilities,
            Score = score,
            Keypoints = keypoints,
        };
    }

    /// <summary>The same loop turned by <paramref name="degrees"/> about <paramref name="centre"/> and shifted.</summary>
    public static CapillaryInstance Transform(CapillaryInstance loop, double degrees, Point2 centre, Point2 shift, double scale = 1)
    {
        var keypoints = loop.Keypoints.Select(k =>
        {
            Point2 p = FieldOfView.Rotate(new Point2(k.X, k.Y), degrees, centre);
            p = centre + (p - centre) * scale + shift;
            return new Keypoint((float)p.X, (float)p.Y, k.Confidence);
        }).ToArray();
        return Instance(keypoints, loop.ClassName, loop.Score);
    }
}
