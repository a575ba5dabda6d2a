using System.Globalization;

namespace NfcPipeline.Core.Domain;

/// <summary>Numbers printed beside the threshold they were compared with, in explanations users read.</summary>
public static class ThresholdText
{
    /// <summary>
    /// The value with as many decimals as it takes to differ from the threshold it differs from, so that 6.9996 reads
    /// "6.9996 >= 7: no", not "7 >= 7: no".
    /// </summary>
    public static string Apart(double value, double threshold)
    {
        foreach (var format in (string[])["0.###", "0.######", "0.#########"])
        {
            var text = value.ToString(format, CultureInfo.InvariantCulture);
            if (value == threshold || text != threshold.ToString(format, CultureInfo.InvariantCulture)) return text;
        }
        return value.ToString("R", CultureInfo.InvariantCulture);
    }
}
