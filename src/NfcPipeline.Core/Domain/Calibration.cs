namespace NfcPipeline.Core.Domain;

/// <summary>The physical scale of an image. Typical capillaroscopes at about 200× give 1.5–3 µm per pixel.</summary>
public readonly record struct Calibration
{
    public Calibration(double micrometresPerPixel)
    {
        if (!(micrometresPerPixel > 0) || double.IsInfinity(micrometresPerPixel))
            throw new ArgumentOutOfRangeException(nameof(micrometresPerPixel), micrometresPerPixel, "µm per pixel must be a positive finite number.");
        MicrometresPerPixel = micrometresPerPixel;
    }

    public double MicrometresPerPixel { get; }

    /// <summary>The calibrations taken wherever one is given (a manifest, a submission, the CLI, the worker's default):
    /// a capillaroscope gives about 0.5-5 µm/px; 5e-324 or 1e308 made every threshold in pixels 0 or infinite.</summary>
    public const double MinPlausible = 0.01, MaxPlausible = 100;

    /// <summary>What <see cref="IsPlausible"/> accepts, for refusals.</summary>
    public const string PlausibleRange = "0.01 to 100 µm per pixel (a capillaroscope gives about 0.5-5)";

    public static bool IsPlausible(double micrometresPerPixel) => micrometresPerPixel is >= MinPlausible and <= MaxPlausible;

    public double ToMicrometres(double pixels) => pixels * MicrometresPerPixel;

    /// <summary>
    /// Refuses default(Calibration), which skips the constructor: 0 µm/px would make every length 0 and no loop dilated,
    /// and every length in µm turned to pixels infinite.
    /// </summary>
    public static void ThrowIfUnscaled(Calibration calibration, string paramName)
    {
        if (!(calibration.MicrometresPerPixel > 0)) throw new ArgumentException("The calibration has no scale (a default Calibration).", paramName);
    }
}
