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
