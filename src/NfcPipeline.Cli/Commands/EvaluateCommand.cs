using System.CommandLine;
using NfcPipeline.Cli.Output;
using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Core.Evaluation;
using NfcPipeline.Core.Options;
using NfcPipeline.Inference.Engine;

namespace NfcPipeline.Cli.Commands;

/// <summary>`nfc evaluate`: runs the model over images with known truth and reports detection, class, diameter and density errors.</summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var images = new Option<DirectoryInfo>("--images") { Description = "Folder the truth's file names are relative to", Required = true };
        var truth = new Option<FileInfo>("--truth") { Description = "COCO instances with keypoints (.json), or a density CSV: image,capillaries_per_mm or image,count", Required = true };
        var umPerPx = CommonOptions.Decimal("--um-per-px", "Calibration for every image (default: the truth's per-image um_per_px, else 2.0)");
        var classMap = new Option<string?>("--class-map") { Description = "Prediction class → truth class renames, e.g. hairpin=normal,tortuous=normal" };
        var fieldMm = CommonOptions.Decimal("--field-mm", "Field width in mm, to turn a CSV 'count' column into a density");
        var json = new Option<bool>("--json") { Description = "Print the report as JSON" };
        var inference = new InferenceArguments();
        var command = new Command("evaluate", "Compare the model's predictions with ground truth.") { images, truth, umPerPx, classMap, fieldMm, json };
        inference.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var request = new EvaluationRequest(parse.GetValue(images)!, parse.GetValue(truth)!, parse.GetValue(umPerPx),
                parse.GetValue(classMap), parse.GetValue(fieldMm), parse.GetValue(json));
            return await RunAsync(request, inference, parse, ct);
        });
        return command;
    }

    private sealed record EvaluationRequest(DirectoryInfo Images, FileInfo Truth, double? UmPerPx, string? ClassMap, double? FieldMm, bool Json);

    private static async Task<int> RunAsync(EvaluationRequest request, InferenceArguments inference, ParseResult parse, CancellationToken ct)
    {
        if (!request.Images.Exists || !request.Truth.Exists)
        {
            await Console.Error.WriteLineAsync($"nfc evaluate: {(request.Images.Exists ? $"truth file {request.Truth.FullName}" : $"images folder {request.Images.FullName}")} not found.");
            return NfcCommandLine.Usage;
        }
        if (request.UmPerPx is { } scale && !Calibration.IsPlausible(scale))
        {
            await Console.Error.WriteLineAsync($"nfc evaluate: --um-per-px must be {Calibration.PlausibleRange}.");
            return NfcCommandLine.Usage;
        }
        if (InferenceArguments.AnalysisFromEnvironment("nfc evaluate") is not { } analysisOptions) return NfcCommandLine.Usage;
        EvaluationOptions evaluationOptions;
        try
        {
            var pairs = (request.ClassMap ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            evaluationOptions = new EvaluationOptions
            {
                ClassNameMap = EvaluationOptions.ParseClassNameMap(pairs),
                // The scale every image is analysed at below: the option's, else the truth's, else the fallback.
                UmPerPx = request.UmPerPx, DefaultUmPerPx = AnalyzeCommand.FallbackMicrometresPerPixel,
                Categories = analysisOptions.Measurement.Categories,   // the loops the analysis itself measures
            };
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            await Console.Error.WriteLineAsync($"nfc evaluate: {(ex is FormatException ? "--class-map: " : "")}{ex.Message}");
            return NfcCommandLine.Usage;
        }

        bool isCsv = request.Truth.Extension.Equals(".csv", StringComparison.OrdinalIgnoreCase);
        string truthText;
        try { truthText = await File.ReadAllTextAsync(request.Truth.FullName, ct); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The file system's answer, as for an unreadable model: not a wrong command.
            await Console.Error.WriteLineAsync($"nfc evaluate: --truth {request.Truth.Name} cannot be read: {ex.Message}");
            return NfcCommandLine.Fatal;
        }
        CocoDataset? coco = null;
        IReadOnlyDictionary<string, double>? csvTruth = null;
        try
        {
            if (isCsv) csvTruth = DensityTruthCsv.Parse(truthText, request.FieldMm);
            else coco = CocoParser.Parse(truthText);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"nfc evaluate: --field-mm: {ex.Message}");
            return NfcCommandLine.Usage;
        }
        catch (Exception ex) when (ex is FormatException or System.Text.Json.JsonException or InvalidDataException)
        {
            await Console.Error.WriteLineAsync($"nfc evaluate: cannot read {request.Truth.Name}: {ex.Message}");
            return NfcCommandLine.Fatal;
        }

        if (coco is not null && request.FieldMm is not null)
        {
            await Console.Error.WriteLineAsync("nfc evaluate: --field-mm is for a density CSV with a 'count' column, not for COCO truth.");
            return NfcCommandLine.Usage;
        }
        if (coco is { Images.Count: 0 })
        {
            // Annotations without their images list (a bare array, say) evaluate nothing: no metrics a script could take.
            await Console.Error.WriteLineAsync($"nfc evaluate: {request.Truth.Name} lists no images (COCO needs an 'images' array).");
            return NfcCommandLine.Fatal;
        }

        // Each named file under --images, checked before the model loads.
        foreach (var name in coco?.Images.Select(i => i.FileName) ?? csvTruth!.Keys)
            if (TruthImageFiles.Problem(name) is { } problem)
            {
                await Console.Error.WriteLineAsync($"nfc evaluate: {request.Truth.Name}: image '{name}' {problem}.");
                return NfcCommandLine.Fatal;
            }
        var truthWarnings = new List<string>();
        if (coco is not null) coco = TruthImageFiles.FirstOfEachFile(coco, truthWarnings);

        if (request.UmPerPx is null && coco?.Images.FirstOrDefault(i => i.UmPerPx is { } v && !Calibration.IsPlausible(v)) is { } badScale)
        {
            // As --um-per-px and study.json: a scale written in mm per pixel would put every diameter 1000x off.
            await Console.Error.WriteLineAsync($"nfc evaluate: {request.Truth.Name}: image {badScale.FileName} has um_per_px " +
                $"{badScale.UmPerPx?.ToString(System.Globalization.CultureInfo.InvariantCulture)}; it must be {Calibration.PlausibleRange} (or give --um-per-px).");
            return NfcCommandLine.Fatal;
        }

        if (inference.Options(parse, "nfc evaluate") is not { } inferenceOptions) return NfcCommandLine.Usage;
        var opened = await ModelLoading.TryOpenAsync(() => InferenceArguments.Open(inferenceOptions, parse.GetValue(inference.Batch), analysisOptions), "nfc evaluate");
        if (opened is null) return NfcCommandLine.Fatal;
        var (model, fields) = opened.Value;
        using var _ = model;
        await using var __ = fields.Analyzer;

        var targets = coco is not null
            ? coco.Images.Select(i => (Id: i.Id, i.FileName, Scale: request.UmPerPx ?? i.UmPerPx)).ToList()
            : csvTruth!.Keys.Select((name, i) => (Id: (long)i + 1, FileName: name, Scale: request.UmPerPx)).ToList();
        if (targets.Count(t => t.Scale is null) is var uncalibrated and > 0)
            await Console.Error.WriteLineAsync($"nfc evaluate: {uncalibrated} of {targets.Count} image(s) have no calibration " +
                $"(--um-per-px, or um_per_px in the truth); assuming {AnalyzeCommand.FallbackMicrometresPerPixel} µm/px, so their lengths and densities " +
                "are only right if that is theirs.");
        var outcomes = new List<FieldOutcome>();
        var files = targets.Select(t => (TruthImageFiles.PathUnder(request.Images.FullName, t.FileName), new Calibration(t.Scale ?? AnalyzeCommand.FallbackMicrometresPerPixel)));
        await foreach (var outcome in fields.AnalyzeInOrderAsync(files, InferenceArguments.LookAhead(parse.GetValue(inference.Batch)), ct))
            outcomes.Add(outcome);

        var failures = targets.Zip(outcomes).Where(p => !p.Second.Succeeded).Select(p => $"{p.First.FileName}: {p.Second.ErrorCode}: {p.Second.Error}").ToList();
        // A density CSV naming one image twice (by case, or './a.png' beside 'a.png') keeps the first.
        var measured = new Dictionary<string, ImageMeasurement>(StringComparer.OrdinalIgnoreCase);
        foreach (var (target, outcome) in targets.Zip(outcomes))
            if (outcome.Measurement is not null) measured.TryAdd(DensityTruthCsv.ImageKey(target.FileName), outcome.Measurement);

        if (coco is not null)
        {
            var predicted = targets.Zip(outcomes).Where(p => p.Second.Succeeded)
                .Select(p => new PredictedImage(p.First.Id, p.First.FileName, p.Second.Analysis!.Width, p.Second.Analysis.Height, p.Second.Analysis.Instances))
                .ToList();
            EvaluationReport report;
            try { report = CocoEvaluator.Evaluate(coco, CocoPredictions.Build(predicted, model.Contract.ClassNames), evaluationOptions, pipelineMeasurements: measured); }
            catch (Exception ex) when (ex is FormatException or ArgumentException)
            {
                // Truth the parse let through but the evaluation cannot use: a reason, not a stack trace after the whole run.
                await Console.Error.WriteLineAsync($"nfc evaluate: cannot evaluate against {request.Truth.Name}: {ex.Message}");
                return NfcCommandLine.Fatal;
            }
            EvaluationOutput.Print(report with { Warnings = [.. truthWarnings, .. report.Warnings, .. failures] }, request.Json);
        }
        else
        {
            var pairs = csvTruth!.Select(t => (Truth: t, Predicted: measured.GetValueOrDefault(DensityTruthCsv.ImageKey(t.Key))?.DensityPerMm))
                .Where(p => p.Predicted is not null).Select(p => new DensityPair(p.Truth.Key, p.Truth.Value, p.Predicted!.Value)).ToList();
            EvaluationOutput.PrintDensityOnly(DensityMetrics.Of(pairs), failures, request.Json);
        }
        // Metrics over no predictions are no evaluation (a wrong --images folder): a script must not take them for one.
        if (outcomes.Count > 0 && !outcomes.Any(o => o.Succeeded))
        {
            await Console.Error.WriteLineAsync($"nfc evaluate: none of the {outcomes.Count} images could be analysed (the first: {failures[0]}).");
            return NfcCommandLine.Fatal;
        }
        return NfcCommandLine.Success;
    }
}
