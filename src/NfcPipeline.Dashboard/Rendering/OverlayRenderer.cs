using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Imaging;
using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Rendering;

/// <summary>
/// Draws capillary masks (tinted fill and outline), keypoints and the distal row onto an image, optionally scaled
/// down first so thumbnails keep crisp outlines. mask_rle runs row-major over mask_rect (left, top, width, height),
/// starting with background.
/// </summary>
public static class OverlayRenderer
{
    private static readonly (byte R, byte G, byte B) Normal = (40, 200, 90), Abnormal = (240, 140, 30), Hemorrhage = (220, 30, 40),
        Ungradable = (150, 150, 150), Distal = (255, 235, 0), Keypoint = (0, 220, 255), Giant = (230, 0, 230), Dilated = (150, 60, 255);

    /// <param name="keypointGate">The confidence gate the measurements used (null: the default); keypoints below it are not drawn.</param>
    public static byte[] RenderPng(RgbImage source, IReadOnlyList<CapillaryShape> capillaries, int? maxWidth, double? keypointGate = null)
    {
        var gate = (float)(keypointGate ?? DefaultKeypointGate);
        var scale = maxWidth is { } m && m > 0 && m < source.Width ? m / (double)source.Width : 1.0;
        var (w, h) = (Math.Max(1, (int)Math.Round(source.Width * scale)), Math.Max(1, (int)Math.Round(source.Height * scale)));
        var rgb = scale == 1.0 ? (byte[])source.Pixels.Clone() : Downscale(source, w, h);
        foreach (var c in capillaries) DrawMask(rgb, w, h, scale, c);
        foreach (var c in capillaries) DrawKeypoints(rgb, w, h, scale, c, gate);
        return PngEncoder.EncodeRgb(rgb, w, h);
    }

    /// <summary>The mask as bits over its rectangle (capillaries.mask_rect), or null when the row has none or the runs do not fit it.</summary>
    public static (int Left, int Top, int Width, int Height, bool[] Bits)? DecodeMask(CapillaryShape c)
    {
        if (c.MaskRect is not { Length: 4 } rect || rect[2] <= 0 || rect[3] <= 0 || c.MaskRle.Any(r => r < 0)
            || c.MaskRle.Sum(r => (long)r) != (long)rect[2] * rect[3]) return null;
        var mask = MaskRuns.Decode(rect, c.MaskRle);
        return (mask.Left, mask.Top, mask.Width, mask.Height, mask.Bits.ToArray());
    }

    private static void DrawMask(byte[] rgb, int w, int h, double scale, CapillaryShape c)
    {
        if (DecodeMask(c) is not { } mask) return;
        var colour = c.Category switch { "abnormal" => Abnormal, "hemorrhage" => Hemorrhage, "ungradable" => Ungradable, _ => Normal };
        int x0 = Math.Max(0, (int)Math.Floor(mask.Left * scale)), y0 = Math.Max(0, (int)Math.Floor(mask.Top * scale));
        int x1 = Math.Min(w - 1, (int)Math.Ceiling((mask.Left + mask.Width) * scale)), y1 = Math.Min(h - 1, (int)Math.Ceiling((mask.Top + mask.Height) * scale));
        if (x1 < x0 || y1 < y0) return;
        bool Inside(int x, int y)
        {
            if (x < x0 || y < y0 || x > x1 || y > y1) return false;
            int sx = (int)((x + 0.5) / scale) - mask.Left, sy = (int)((y + 0.5) / scale) - mask.Top;
            return sx >= 0 && sy >= 0 && sx < mask.Width && sy < mask.Height && mask.Bits[sy * mask.Width + sx];
        }
        var outline = c.Giant ? Giant : c.Dilated ? Dilated : c.Distal ? Distal : colour;
        var t = scale >= 0.75 ? 2 : 1; // outlines stay visible on full-size 1280-pixel images
        for (var y = y0; y <= y1; y++)
            for (var x = x0; x <= x1; x++)
            {
                if (!Inside(x, y)) continue;
                var edge = !Inside(x - t, y) || !Inside(x + t, y) || !Inside(x, y - t) || !Inside(x, y + t);
                var o = (y * w + x) * 3;
                if (edge) Put(rgb, o, outline);
                else Blend(rgb, o, colour, 0.35);
            }
        // Giant and dilated loops, which can decide a patient's pattern, are boxed in their own colour, distal or not.
        if (c.Giant || c.Dilated || c.Distal) DrawRectangle(rgb, w, h, x0, y0, x1, y1, outline);
    }

    /// <summary>The measurements' default confidence gate: a keypoint below it was not used, so it is not drawn.</summary>
    private static readonly double DefaultKeypointGate = new NfcPipeline.Core.Options.MeasurementOptions().MinKeypointConfidence;

    private static void DrawKeypoints(byte[] rgb, int w, int h, double scale, CapillaryShape c, float gate)
    {
        var radius = Math.Max(2, (int)Math.Round(3 * Math.Max(scale, 0.5)));
        for (var k = 0; k + 2 < c.Keypoints.Length; k += 3)
        {
            if (!(c.Keypoints[k + 2] >= gate) || !float.IsFinite(c.Keypoints[k]) || !float.IsFinite(c.Keypoints[k + 1])) continue;
            int cx = (int)Math.Round(c.Keypoints[k] * scale), cy = (int)Math.Round(c.Keypoints[k + 1] * scale);
            for (var dy = -radius - 1; dy <= radius + 1; dy++)
                for (var dx = -radius - 1; dx <= radius + 1; dx++)
                {
                    int x = cx + dx, y = cy + dy;
                    if (x < 0 || y < 0 || x >= w || y >= h) continue;
                    var d2 = dx * dx + dy * dy;
                    if (d2 <= radius * radius) Put(rgb, (y * w + x) * 3, Keypoint);
                    else if (d2 <= (radius + 1) * (radius + 1)) Put(rgb, (y * w + x) * 3, (0, 0, 0));
                }
        }
    }

    private static void DrawRectangle(byte[] rgb, int w, int h, int x0, int y0, int x1, int y1, (byte, byte, byte) colour)
    {
        for (var x = x0; x <= x1; x++) { Put(rgb, (y0 * w + x) * 3, colour); Put(rgb, (y1 * w + x) * 3, colour); }
        for (var y = y0; y <= y1; y++) { Put(rgb, (y * w + x0) * 3, colour); Put(rgb, (y * w + x1) * 3, colour); }
    }

    /// <summary>Box-filter downscale (each output pixel averages its source area).</summary>
    private static byte[] Downscale(RgbImage src, int w, int h)
    {
        var dst = new byte[w * h * 3];
        double fx = src.Width / (double)w, fy = src.Height / (double)h;
        for (var y = 0; y < h; y++)
        {
            int sy0 = (int)(y * fy), sy1 = Math.Max(sy0 + 1, Math.Min(src.Height, (int)((y + 1) * fy)));
            for (var x = 0; x < w; x++)
            {
                int sx0 = (int)(x * fx), sx1 = Math.Max(sx0 + 1, Math.Min(src.Width, (int)((x + 1) * fx)));
                long r = 0, g = 0, b = 0, n = 0;   // one output pixel may average the whole image: 8.4 MP of white overflows an int
                for (var sy = sy0; sy < sy1; sy++)
                    for (var sx = sx0; sx < sx1; sx++)
                    {
                        var o = (sy * src.Width + sx) * 3;
                        r += src.Pixels[o]; g += src.Pixels[o + 1]; b += src.Pixels[o + 2]; n++;
                    }
                var d = (y * w + x) * 3;
                dst[d] = (byte)(r / n); dst[d + 1] = (byte)(g / n); dst[d + 2] = (byte)(b / n);
            }
        }
        return dst;
    }

    private static void Put(byte[] rgb, int o, (byte R, byte G, byte B) c) { rgb[o] = c.R; rgb[o + 1] = c.G; rgb[o + 2] = c.B; }

    private static void Blend(byte[] rgb, int o, (byte R, byte G, byte B) c, double alpha)
    {
        rgb[o] = (byte)(rgb[o] * (1 - alpha) + c.R * alpha);
        rgb[o + 1] = (byte)(rgb[o + 1] * (1 - alpha) + c.G * alpha);
        rgb[o + 2] = (byte)(rgb[o + 2] * (1 - alpha) + c.B * alpha);
    }
}
