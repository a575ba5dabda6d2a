namespace NfcPipeline.Imaging;

/// <summary>
/// The eight EXIF orientations as pixel remaps of an RGB buffer. Each destination row reads the source
/// along a straight line, so one start offset and one step per row describe all eight.
/// </summary>
internal static class Orientation
{
    /// <returns>The buffer in display orientation; the same array when <paramref name="orientation"/> is 1.</returns>
    public static byte[] Apply(byte[] source, int width, int height, int orientation, out int outWidth, out int outHeight)
    {
        if (orientation is < 1 or > 8)
            throw new ArgumentOutOfRangeException(nameof(orientation), orientation, "EXIF orientation is 1-8");
        bool swaps = orientation >= 5;
        outWidth = swaps ? height : width;
        outHeight = swaps ? width : height;
        if (orientation == 1)
            return source;

        int w = width, h = height, rowBytes = width * 3;
        byte[] target = GC.AllocateUninitializedArray<byte>(source.Length);
        var src = source.AsSpan();
        for (int y = 0; y < outHeight; y++)
        {
            // (start, step) in bytes of the source pixel for destination x = 0, 1, 2, ...
            (long start, int step) = orientation switch
            {
                2 => (((long)y * w + w - 1) * 3, -3),                     // mirror left-right
                3 => (((long)(h - 1 - y) * w + w - 1) * 3, -3),           // rotate 180
                4 => ((long)(h - 1 - y) * rowBytes, 3),                   // mirror top-bottom
                5 => ((long)y * 3, rowBytes),                             // transpose
                6 => (((long)(h - 1) * w + y) * 3, -rowBytes),            // rotate 90 clockwise
                7 => (((long)(h - 1) * w + w - 1 - y) * 3, -rowBytes),    // transverse
                _ => ((long)(w - 1 - y) * 3, rowBytes),                   // 8: rotate 90 counter-clockwise
            };
            var row = target.AsSpan(y * outWidth * 3, outWidth * 3);
            int s = (int)start;
            for (int x = 0; x < row.Length; x += 3, s += step)
            {
                row[x] = src[s];
                row[x + 1] = src[s + 1];
                row[x + 2] = src[s + 2];
            }
        }
        return target;
    }
}
