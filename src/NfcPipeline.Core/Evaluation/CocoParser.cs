using System.Globalization;
using System.Text.Json;

namespace NfcPipeline.Core.Evaluation;

/// <summary>
/// Reads COCO instances JSON with keypoints: a full dataset object, or a results list (a bare array of
/// annotations with scores). Unknown fields are ignored; the simulator's truth fields are read where present.
/// </summary>
public static class CocoParser
{
    public static CocoDataset Parse(string json)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true });
        return Parse(document.RootElement);
    }

    public static CocoDataset Parse(Stream utf8Json)
    {
        using var document = JsonDocument.Parse(utf8Json, new JsonDocumentOptions { AllowTrailingCommas = true });
        return Parse(document.RootElement);
    }

    /// <summary>
    /// A value of the wrong kind (a string keypoint, a null in a bbox) is a FormatException naming it, as a missing one
    /// is, not an InvalidOperationException from the JSON reader.
    /// </summary>
    private static CocoDataset Parse(JsonElement root)
    {
        try { return ParseRoot(root); }
        catch (InvalidOperationException ex) { throw new FormatException($"A value has the wrong type: {ex.Message}", ex); }
    }

    private static CocoDataset ParseRoot(JsonElement root)
    {
        if (root.ValueKind == JsonValueKind.Array)
            return new CocoDataset([], [], root.EnumerateArray().Select((a, i) => ParseAnnotation(a, i + 1)).ToArray(), []);
        if (root.ValueKind != JsonValueKind.Object) throw new FormatException("COCO JSON must be an object or an array of annotations.");
        var images = Array(root, "images").Select(ParseImage).ToArray();
        var categories = Array(root, "categories").Select(ParseCategory).ToArray();
        var annotations = Array(root, "annotations").Select((a, i) => ParseAnnotation(a, i + 1)).ToArray();
        var patients = Array(root, "patients").Select(ParsePatient).ToArray();
        CheckFrames(images, annotations);
        return new CocoDataset(images, categories, annotations, patients);
    }

    /// <summary>The most pixels one mask may cover (10,000 × 10,000): a bigger RLE size or image is refused, not allocated.</summary>
    public const long MaxMaskPixels = 100_000_000;

    /// <summary>
    /// Each image once by id (annotations find their image by it: two of one id each took both images' annotations),
    /// and each mask in its image's frame: a polygon is drawn in it, so that image must give its width and height, and
    /// an RLE must be of its size (one of [width, height], COCO's order swapped, decoded sheared and matched nothing).
    /// Found here, not after a model has run over every image. Every image's size is checked (coverage paints the whole frame).
    /// </summary>
    private static void CheckFrames(CocoImage[] images, CocoAnnotation[] annotations)
    {
        var frames = new Dictionary<long, CocoImage>();
        foreach (var image in images)
        {
            if ((long)image.Width * image.Height > MaxMaskPixels)
                throw new FormatException($"Image {image.Id} is {image.Width}×{image.Height}: over the {MaxMaskPixels:N0} pixels a mask may cover.");
            if (!frames.TryAdd(image.Id, image))
                throw new FormatException($"Image id {image.Id} is listed twice ({frames[image.Id].FileName} and {image.FileName}); each image needs an id of its own.");
        }
        foreach (var annotation in annotations)
        {
            if (!frames.TryGetValue(annotation.ImageId, out var image)) continue;
            if (annotation.Segmentation is CocoPolygons && (image.Width <= 0 || image.Height <= 0))
                throw new FormatException($"Annotation {annotation.Id} has a polygon mask, but its image {annotation.ImageId} gives no width and height.");
            if (annotation.Segmentation is CocoRle rle && image.Width > 0 && image.Height > 0 && (rle.Width != image.Width || rle.Height != image.Height))
                throw new FormatException($"Annotation {annotation.Id}: its RLE size [{rle.Height}, {rle.Width}] is not its image {image.Id}'s " +
                    $"[{image.Height}, {image.Width}] (size is [height, width]).");
        }
    }

    private static CocoImage ParseImage(JsonElement e) =>
        new(RequiredLong(e, "id"), String(e, "file_name") ?? "", Side(e, "width"), Side(e, "height"))
        {
            UmPerPx = Number(e, "um_per_px"),
            DensityPerMm = Number(e, "density_per_mm") ?? Number(e, "density_mean_per_mm"),
            PatientId = Text(e, "patient_id") ?? Text(e, "patient"),
            Finger = Text(e, "finger"),
            Ungradable = Flag(e, "ungradable"),
        };

    private static CocoCategory ParseCategory(JsonElement e) =>
        new(RequiredLong(e, "id"), String(e, "name") ?? throw new FormatException("A category has no name."),
            Array(e, "keypoints").Select(k => k.GetString() ?? "").ToArray());

    private static CocoAnnotation ParseAnnotation(JsonElement e, int ordinal)
    {
        try { return ParseAnnotationValues(e, ordinal); }
        catch (InvalidOperationException ex) { throw new FormatException($"Annotation {ordinal}: a value has the wrong type: {ex.Message}", ex); }
    }

    private static CocoAnnotation ParseAnnotationValues(JsonElement e, int ordinal)
    {
        float[]? keypoints = null;
        if (e.TryGetProperty("keypoints", out var k) && k.ValueKind == JsonValueKind.Array && k.GetArrayLength() > 0)
        {
            keypoints = k.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
            if (keypoints.Length != 24) throw new FormatException($"Annotation {ordinal}: expected 8 keypoints × 3 values, got {keypoints.Length} values.");
        }
        double[]? bbox = e.TryGetProperty("bbox", out var b) && b.ValueKind == JsonValueKind.Array
            ? b.EnumerateArray().Select(v => v.GetDouble()).ToArray() : null;
        return new CocoAnnotation
        {
            Id = Long(e, "id") ?? ordinal,
            ImageId = RequiredLong(e, "image_id"),
            CategoryId = RequiredLong(e, "category_id"),
            Score = Number(e, "score"),
            Segmentation = e.TryGetProperty("segmentation", out var s) ? ParseSegmentation(s, ordinal) : null,
            Bbox = bbox is { Length: 4 } ? bbox : null,
            Keypoints = keypoints,
            IsCrowd = (Number(e, "iscrowd") ?? 0) != 0,
            ApicalDiameterUm = Number(e, "apical_diameter_um"),
            ArterialDiameterUm = Number(e, "arterial_diameter_um"),
            VenousDiameterUm = Number(e, "venous_diameter_um"),
            Distal = Flag(e, "distal"),
        };
    }

    private static CocoSegmentation? ParseSegmentation(JsonElement s, int ordinal)
    {
        switch (s.ValueKind)
        {
            case JsonValueKind.Array:
                var polygons = s.EnumerateArray().Where(p => p.ValueKind == JsonValueKind.Array)
                    .Select(p => p.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
                return polygons.Length == 0 ? null : new CocoPolygons(polygons);
            case JsonValueKind.Object:
                var size = Array(s, "size").Select(v => v.GetInt32()).ToArray();
                if (size.Length != 2) throw new FormatException($"Annotation {ordinal}: an RLE segmentation needs size [height, width].");
                if (!s.TryGetProperty("counts", out var counts)) throw new FormatException($"Annotation {ordinal}: an RLE segmentation has no counts.");
                uint[] runs = counts.ValueKind == JsonValueKind.String
                    ? CocoRleCodec.DecodeString(counts.GetString()!)
                    : counts.EnumerateArray().Select(v => v.GetUInt32()).ToArray();
                if (size[0] <= 0 || size[1] <= 0 || (long)size[0] * size[1] > MaxMaskPixels)
                    throw new FormatException($"Annotation {ordinal}: an RLE segmentation's size [{size[0]}, {size[1]}] must be positive and cover at most {MaxMaskPixels:N0} pixels.");
                long covered = runs.Sum(r => (long)r);
                if (covered != (long)size[0] * size[1])
                    throw new FormatException($"Annotation {ordinal}: an RLE segmentation's runs cover {covered} pixels, not its size {size[0]}×{size[1]}.");
                return new CocoRle(size[0], size[1], runs);
            default:
                return null;
        }
    }

    private static CocoPatientTruth ParsePatient(JsonElement e)
    {
        string id = Text(e, "patient_id") ?? Text(e, "patient") ?? Text(e, "id") ?? throw new FormatException("A patient has no id.");
        var numbers = new Dictionary<string, double>(StringComparer.Ordinal);
        var texts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in e.EnumerateObject())
        {
            if (property.Value.ValueKind == JsonValueKind.Number) numbers[property.Name] = property.Value.GetDouble();
            else if (property.Value.ValueKind == JsonValueKind.String) texts[property.Name] = property.Value.GetString()!;
            else if (property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False) texts[property.Name] = property.Value.GetBoolean() ? "true" : "false";
        }
        return new CocoPatientTruth(id)
        {
            Pattern = Text(e, "pattern"),
            DensityPerMm = Number(e, "density_per_mm") ?? Number(e, "density_mean_per_mm"),
            ImageIds = Array(e, "image_ids").Where(v => v.ValueKind == JsonValueKind.Number).Select(v => v.GetInt64()).ToArray(),
            Numbers = numbers,
            Texts = texts,
        };
    }

    private static IEnumerable<JsonElement> Array(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var a) && a.ValueKind == JsonValueKind.Array ? a.EnumerateArray() : [];

    private static double? Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    /// <summary>true/false, or a number (non-zero is true); null when absent.</summary>
    private static bool? Flag(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number => v.GetDouble() != 0,
            _ => null,
        } : null;

    /// <summary>A whole number, read as one: through a double, ids above 2^53 that differ would be one id.</summary>
    private static long? Long(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.Number) return null;
        if (v.TryGetInt64(out long whole)) return whole;
        double d = v.GetDouble();   // "3.0": whole, written as a float
        return d == Math.Floor(d) && Math.Abs(d) < 9e15 ? (long)d
            : throw new FormatException($"'{name}' must be a whole number, got {v.GetRawText()}.");
    }

    /// <summary>An image's width or height: 0 when not given; a size no mask could be drawn in is refused here.</summary>
    private static int Side(JsonElement e, string name) =>
        Number(e, name) switch
        {
            null => 0,
            double d when d >= 0 && d <= MaxMaskPixels && d == Math.Floor(d) => (int)d,
            _ => throw new FormatException($"Image {Long(e, "id")}: its {name} must be a whole number of pixels up to {MaxMaskPixels:N0}, got {e.GetProperty(name).GetRawText()}."),
        };

    private static long RequiredLong(JsonElement e, string name) =>
        Long(e, name) ?? throw new FormatException($"Missing numeric '{name}' in {e.GetRawText()[..Math.Min(80, e.GetRawText().Length)]}.");

    private static string? String(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>A string, or a number written as text (ids are either in practice).</summary>
    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.TryGetInt64(out long whole) ? whole.ToString(CultureInfo.InvariantCulture)
                : v.GetDouble().ToString(CultureInfo.InvariantCulture),
            _ => null,
        } : null;
}
