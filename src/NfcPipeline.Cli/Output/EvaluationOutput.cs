using System.Text.Json;
using NfcPipeline.Core.Evaluation;
using Spectre.Console;
using static NfcPipeline.Cli.Output.Formatting;

namespace NfcPipeline.Cli.Output;

/// <summary>Prints an evaluation report as tables, or as JSON.</summary>
internal static class EvaluationOutput
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    public static void Print(EvaluationReport report, bool json)
    {
        if (json) { Console.WriteLine(JsonSerializer.Serialize(report, Json)); return; }
        WideWhenRedirected();
        var d = report.Detection;
        var summary = new Table().Title($"Evaluation over {report.ImageCount} images").AddColumns("metric", "value");
        summary.AddRow("truth instances", d.TruthCount.ToString());
        summary.AddRow("predicted instances", d.PredictionCount.ToString());
        summary.AddRow("matched (mask IoU ≥ 0.5)", d.MatchedCount.ToString());
        summary.AddRow("detection precision", Num(d.Precision, "0.000"));
        summary.AddRow("detection recall", Num(d.Recall, "0.000"));
        summary.AddRow("detection F1", Num(d.F1, "0.000"));
        summary.AddRow("pixel sensitivity", Num(report.Segmentation.Sensitivity, "0.000"));
        summary.AddRow("class accuracy (matched)", Num(report.Classification.Accuracy, "0.000"));
        // With its n: an image without a predicted density (no row placed, analysis failed) leaves the pairs, not the detection.
        summary.AddRow($"density MAE, {report.Density.PairCount} images (/mm)", Num(report.Density.Mae, "0.000"));
        summary.AddRow("density Pearson r", Num(report.Density.Pearson, "0.000"));
        if (report.GradableDensity is { } gradable)
            summary.AddRow($"density MAE, {gradable.PairCount} truth-gradable images (/mm)", Num(gradable.Mae, "0.000"));
        if (report.PipelineGradableDensity is { } graded)
            summary.AddRow($"density MAE, {graded.PairCount} images the pipeline grades gradable (/mm)", Num(graded.Mae, "0.000"));
        if (report.Grading is { } g)
            summary.AddRow("grading agrees with truth", $"{g.BothGradable + g.BothUngradable} of {g.ImageCount} ({g.BothGradable} gradable, {g.BothUngradable} ungradable)");
        AnsiConsole.Write(summary);

        AnsiConsole.Write(DiameterTable("Diameters on matched instances", report.Diameters));
        if (report.LoopDiameters.Count > 0)
            AnsiConsole.Write(DiameterTable("Diameters on matched loops, as the pipeline measured them (what per-patient statistics use)", report.LoopDiameters));
        if (report.DistalRowDiameters is { } distal)
            AnsiConsole.Write(DiameterTable("Diameters on matched capillaries of the distal row (by the truth)", distal));

        var c = report.Classification;
        if (c.Labels.Count > 0)
        {
            var confusion = new Table().Title("Confusion (rows: truth, columns: predicted)").AddColumn("truth \\ predicted");
            foreach (var label in c.Labels) confusion.AddColumn(Markup.Escape(label));
            for (int i = 0; i < c.Labels.Count; i++)
                confusion.AddRow([Markup.Escape(c.Labels[i]), .. c.Confusion[i].Select(n => n.ToString())]);
            AnsiConsole.Write(confusion);
        }
        foreach (var disagreement in report.Grading?.Disagreements ?? [])
            Console.WriteLine($"grading: {disagreement.Image}: truth {(disagreement.TruthGradable ? "gradable" : "ungradable")}, pipeline {(disagreement.PipelineGradable ? "gradable" : $"ungradable ({disagreement.Reason})")}");
        foreach (var warning in report.Warnings) Console.WriteLine($"warning: {warning}");
    }

    private static Table DiameterTable(string title, IReadOnlyList<DiameterMetrics> metrics)
    {
        var table = new Table().Title(title).AddColumns("diameter", "pairs", "MAE px", "MAE µm", "error of means px", "error of means µm");
        foreach (var m in metrics)
            table.AddRow(m.Diameter, m.PairCount.ToString(), Num(m.MaePx, "0.00"), Num(m.MaeUm, "0.00"), Num(m.ErrorOfMeansPx, "0.00"), Num(m.ErrorOfMeansUm, "0.00"));
        return table;
    }

    public static void PrintDensityOnly(DensityMetrics density, IReadOnlyList<string> failures, bool json)
    {
        if (json) { Console.WriteLine(JsonSerializer.Serialize(new { density, failures }, Json)); return; }
        Console.WriteLine($"density: {density.PairCount} images, MAE {Num(density.Mae, "0.000")} /mm, Pearson r {Num(density.Pearson, "0.000")}");
        foreach (var failure in failures) Console.WriteLine($"warning: {failure}");
    }
}
