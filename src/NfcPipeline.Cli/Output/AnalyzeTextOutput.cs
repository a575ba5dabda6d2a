using NfcPipeline.Core.Aggregation;
using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Inference.Engine;
using NfcPipeline.Intake;
using Spectre.Console;
using static NfcPipeline.Cli.Output.Formatting;

namespace NfcPipeline.Cli.Output;

/// <summary>Readable output: a line per image as results arrive, then a table and the fast-track trace per patient.</summary>
internal sealed class AnalyzeTextOutput(LoadedModel model, StudyInventory inventory, Calibration calibration) : IAnalyzeOutput
{
    private readonly List<PatientReport> _patients = [];

    public void Begin()
    {
        Console.WriteLine($"Model {model.Contract.ModelName} {model.Contract.ModelVersion} (sha256 {model.Sha256Hex[..12]}…) on {model.ActiveProvider}; " +
                          $"{calibration.MicrometresPerPixel} µm/px; {inventory.Images.Count} images");
    }

    public void Image(StudyImage image, FieldOutcome outcome)
    {
        if (!outcome.Succeeded)
        {
            Console.WriteLine($"{image.ShownPath}  FAILED {outcome.ErrorCode}: {outcome.Error}");
            return;
        }
        var m = outcome.Measurement!;
        var classes = string.Join(", ", m.Capillaries.GroupBy(c => c.ClassName).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}"));
        var loops = m.Capillaries.Where(c => c.IsLoop).ToList();
        double? Mean(Func<CapillaryMeasurement, double?> pick) =>
            loops.Select(pick).OfType<double>().ToList() is { Count: > 0 } values ? values.Average() : null;
        var grading = m.Grading.IsGradable ? m.Quality.ToString() : $"ungradable: {m.Grading.Explanation}";
        Console.WriteLine($"{image.ShownPath}  {m.Capillaries.Count} capillaries ({(classes.Length > 0 ? classes : "none")})  " +
                          $"distal {m.DistalCount} → {Num(m.DensityPerMm)}/mm  apical {Num(Mean(c => c.ApicalDiameterUm))} µm  " +
                          $"arterial {Num(Mean(c => c.ArterialDiameterUm))}  venous {Num(Mean(c => c.VenousDiameterUm))}  " +
                          $"hemorrhages {m.HemorrhageCount}  [{grading}]");
    }

    public void Skipped(SkippedEntry entry) => Console.WriteLine($"{entry.RelativePath}  SKIPPED: {entry.Reason}");

    public void Patient(PatientReport report) => _patients.Add(report);

    public void End(int succeeded, int failed, int skipped)
    {
        Console.WriteLine($"{succeeded + failed} images: {succeeded} analysed, {failed} failed, {skipped} skipped");
        // As the dashboard's reports say first: these are a model's figures, not a diagnosis.
        Console.WriteLine("Research use only: computed automatically by the model; the pattern is not a diagnosis (see the model's card).");
        if (_patients.Count == 0) return;
        WideWhenRedirected();
        var table = new Table().Title("Per-patient summary").AddColumns("patient", "fields (gradable)", "density /mm", "normal %", "abnormal %",
            "apical µm (median, p90)", "dilated", "giant", "hemorrhages", "fast-track");
        foreach (var p in _patients)
        {
            var o = p.Overall;
            string Share(string category) => Num(o.Morphology.ByCategory.FirstOrDefault(c => c.Name == category)?.Percent);
            table.AddRow(Markup.Escape(p.PatientId), $"{o.FieldCount} ({o.GradableFieldCount})", MeanSd(o.DensityPerMm),
                Share("Normal"), Share("Abnormal"),
                $"{MeanSd(o.ApicalDiameterUm)} ({Num(o.ApicalDiameterUm.Median)}, {Num(o.ApicalDiameterUm.P90)})",
                o.DilatedCount.ToString(), o.GiantCount.ToString(), o.HemorrhageCount.ToString(), Markup.Escape(Pattern(p.FastTrack)));
        }
        AnsiConsole.Write(table);
        foreach (var p in _patients)
            Console.WriteLine($"{p.PatientId}: {p.FastTrack.Summary}");
    }
}
