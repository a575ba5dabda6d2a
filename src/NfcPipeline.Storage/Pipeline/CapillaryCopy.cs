using NfcPipeline.Core.Domain;
using Npgsql;
using NpgsqlTypes;

namespace NfcPipeline.Storage.Pipeline;

/// <summary>Capillary rows by Npgsql binary COPY: thousands of rows per study without a statement each.</summary>
internal static class CapillaryCopy
{
    private const string Command = """
        copy capillaries (image_sha256, model_id, instance_index, class_name, category, score, box, mask_rle, mask_area, keypoints,
            apical_um, arterial_um, venous_um, limb_length_um, loop_height_um, loop_width_um, dilated, giant, distal, mask_rect,
            apex_cut_by_frame, um_per_px)
        from stdin (format binary)
        """;

    public static async Task WriteAsync(NpgsqlConnection connection, IReadOnlyList<AnalysedImage> images, long modelId, CancellationToken ct)
    {
        if (images.All(i => i.Instances.Count == 0)) return;
        await using var writer = await connection.BeginBinaryImportAsync(Command, ct);
        foreach (var image in images)
        {
            var distal = image.Measurement.DistalRow.Indices.ToHashSet();
            var measured = image.Measurement.Capillaries.ToDictionary(c => c.Index);
            for (int i = 0; i < image.Instances.Count; i++)
            {
                var instance = image.Instances[i];
                var c = measured[i];
                await writer.StartRowAsync(ct);
                await writer.WriteAsync(image.Sha256, NpgsqlDbType.Bytea, ct);
                await writer.WriteAsync(modelId, NpgsqlDbType.Bigint, ct);
                await writer.WriteAsync(i, NpgsqlDbType.Integer, ct);
                await writer.WriteAsync(c.ClassName, NpgsqlDbType.Text, ct);
                await writer.WriteAsync(c.Category.ToString().ToLowerInvariant(), NpgsqlDbType.Text, ct);
                await writer.WriteAsync(instance.Score, NpgsqlDbType.Real, ct);
                await writer.WriteAsync(new[] { instance.Box.X1, instance.Box.Y1, instance.Box.X2, instance.Box.Y2 }, NpgsqlDbType.Array | NpgsqlDbType.Real, ct);
                var (rect, runs) = MaskRuns.Encode(instance.Mask);
                await writer.WriteAsync(runs, NpgsqlDbType.Array | NpgsqlDbType.Integer, ct);
                await writer.WriteAsync(instance.Mask.Area, NpgsqlDbType.Integer, ct);
                await writer.WriteAsync(instance.Keypoints.SelectMany(k => new[] { k.X, k.Y, k.Confidence }).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Real, ct);
                await WriteNullable(writer, c.ApicalDiameterUm, ct);
                await WriteNullable(writer, c.ArterialDiameterUm, ct);
                await WriteNullable(writer, c.VenousDiameterUm, ct);
                // Left and right: the lengths need no limb roles, which one unconfident edge keypoint leaves unknown.
                await WriteNullable(writer, Mean(c.LeftLimbLengthUm, c.RightLimbLengthUm), ct);
                await WriteNullable(writer, c.LoopHeightUm, ct);
                await WriteNullable(writer, c.LoopWidthUm, ct);
                await WriteNullable(writer, c.IsDilated, ct);   // null: the apex could not be measured (migration 0022)
                await WriteNullable(writer, c.IsGiant, ct);
                await writer.WriteAsync(distal.Contains(i), NpgsqlDbType.Boolean, ct);
                await writer.WriteAsync(rect, NpgsqlDbType.Array | NpgsqlDbType.Integer, ct);
                await writer.WriteAsync(c.ApexCutByFrame, NpgsqlDbType.Boolean, ct);
                await writer.WriteAsync(image.Measurement.MicrometresPerPixel, NpgsqlDbType.Double, ct);
            }
        }
        await writer.CompleteAsync(ct);
    }

    private static double? Mean(double? a, double? b) => a is { } x ? b is { } y ? (x + y) / 2 : x : b;

    private static Task WriteNullable(NpgsqlBinaryImporter writer, double? value, CancellationToken ct) =>
        value is { } v ? writer.WriteAsync(v, NpgsqlDbType.Double, ct) : writer.WriteNullAsync(ct);

    private static Task WriteNullable(NpgsqlBinaryImporter writer, bool? value, CancellationToken ct) =>
        value is { } v ? writer.WriteAsync(v, NpgsqlDbType.Boolean, ct) : writer.WriteNullAsync(ct);
}

/// <summary>
/// Masks as row-major run lengths over the mask's tight box, starting with a background run (capillaries.mask_rle),
/// with that box as [left, top, width, height] (capillaries.mask_rect).
/// </summary>
public static class MaskRuns
{
    public static (int[] Rect, int[] Runs) Encode(InstanceMask mask)
    {
        var box = mask.TightBox();
        int left = (int)box.X1, top = (int)box.Y1, width = (int)box.Width, height = (int)box.Height;
        var runs = new List<int>();
        bool current = false;
        int run = 0;
        for (int y = top; y < top + height; y++)
            for (int x = left; x < left + width; x++)
            {
                bool bit = mask.Contains(x, y);
                if (bit != current) { runs.Add(run); run = 0; current = bit; }
                run++;
            }
        runs.Add(run);
        return ([left, top, width, height], runs.ToArray());
    }

    public static InstanceMask Decode(int[] rect, int[] runs)
    {
        int width = rect[2], height = rect[3], length = width * height;
        var bits = new bool[length];
        int position = 0;
        for (int r = 0; r < runs.Length && position < length; r++)
        {
            if (r % 2 == 1) Array.Fill(bits, true, position, Math.Min(runs[r], length - position));
            position += runs[r];
        }
        return new InstanceMask(rect[0], rect[1], width, height, bits);
    }
}
