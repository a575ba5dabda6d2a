namespace NfcPipeline.Core.Evaluation;

/// <summary>A COCO image, with the simulator's optional truth fields.</summary>
public sealed record CocoImage(long Id, string FileName, int Width, int Height)
{
    public double? UmPerPx { get; init; }
    public double? DensityPerMm { get; init; }
    public string? PatientId { get; init; }
    public string? Finger { get; init; }
    /// <summary>Simulator truth: the field is too blurred to grade (the pipeline leaves such fields out of density).</summary>
    public bool? Ungradable { get; init; }
}

public sealed record CocoCategory(long Id, string Name, IReadOnlyList<string> KeypointNames);

/// <summary>A segmentation: polygons (each x0,y0,x1,y1,… in pixel coordinates) or a run-length mask.</summary>
public abstract record CocoSegmentation;

public sealed record CocoPolygons(IReadOnlyList<double[]> Polygons) : CocoSegmentation;

/// <summary>COCO RLE: alternating runs of 0s and 1s (starting with 0s) over the image in column-major order.</summary>
public sealed record CocoRle(int Height, int Width, uint[] Counts) : CocoSegmentation;

public sealed record CocoAnnotation
{
    public required long Id { get; init; }
    public required long ImageId { get; init; }
    public required long CategoryId { get; init; }
    /// <summary>Present on predictions.</summary>
    public double? Score { get; init; }
    public CocoSegmentation? Segmentation { get; init; }
    /// <summary>x, y, width, height.</summary>
    public double[]? Bbox { get; init; }
    /// <summary>8 × (x, y, v): v is visibility (0, 1, 2) in truth and usually a score in predictions.</summary>
    public float[]? Keypoints { get; init; }
    public bool IsCrowd { get; init; }
    public double? ApicalDiameterUm { get; init; }
    public double? ArterialDiameterUm { get; init; }
    public double? VenousDiameterUm { get; init; }
    /// <summary>Simulator truth: whether this loop belongs to the distal row.</summary>
    public bool? Distal { get; init; }
}

/// <summary>A patient's truth from the simulator's top-level <c>patients</c> list; fields beyond the known ones are kept by name.</summary>
public sealed record CocoPatientTruth(string Id)
{
    public string? Pattern { get; init; }
    public double? DensityPerMm { get; init; }
    public IReadOnlyList<long> ImageIds { get; init; } = [];
    public IReadOnlyDictionary<string, double> Numbers { get; init; } = new Dictionary<string, double>();
    public IReadOnlyDictionary<string, string> Texts { get; init; } = new Dictionary<string, string>();
}

public sealed record CocoDataset(
    IReadOnlyList<CocoImage> Images,
    IReadOnlyList<CocoCategory> Categories,
    IReadOnlyList<CocoAnnotation> Annotations,
    IReadOnlyList<CocoPatientTruth> Patients)
{
    public CocoCategory? Category(long id) => Categories.FirstOrDefault(c => c.Id == id);
    public CocoImage? Image(long id) => Images.FirstOrDefault(i => i.Id == id);
}
