using System.CommandLine;
using System.Globalization;
using NfcPipeline.Cli.Output;
using NfcPipeline.Core.Aggregation;
using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Options;
using NfcPipeline.Inference.Engine;
using NfcPipeline.Intake;

namespace NfcPipeline.Cli.Commands;

/// <summary>`nfc analyze`: offline analysis of an image, a folder or a study; no broker, no database.</summary>
internal static class AnalyzeCommand
{
    public const double FallbackMicrometresPerPixel = 2.0;

    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "An image, a folder of images, or a study folder (patient/finger/field)" };
        var json = new Option<bool>("--json") { Description = "One JSON object per line, by \"type\": each image (instances and measurements, or its error), each skipped entry, each patient, then a summary; a value not known is left out" };
        var umPerPx = CommonOptions.Decimal("--um-per-px", $"Calibration in µm per pixel (default: the study's study.json, also above an image or patient folder given alone, else {FallbackMicrometresPerPixel})");
        var inference = new InferenceArguments();
        var command = new Command("analyze", "Analyse images offline and print instances, measurements and per-patient summaries.") { path, json, umPerPx };
        inference.AddTo(command);
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(path)!, parse.GetValue(json), parse.GetValue(umPerPx), inference, parse, ct));
        return command;
    }

    private static async Task<int> RunAsync(string target, bool json, double? umPerPx, InferenceArguments inference, ParseResult parse, CancellationToken ct)
    {
        StudyInventory inventory;
        try { inventory = Inventory(target); }
        catch (StudyLayoutException ex) { await Console.Error.WriteLineAsync($"nfc analyze: {ex.Message}"); return NfcCommandLine.Usage; }
        // A map that misses a folder would print that folder's name (often the patient's) as its code, as the worker refuses to.
        if (StudyLayout.PatientFolderProblem(inventory, "nothing was analysed") is { } mapProblem)
        {
            await Console.Error.WriteLineAsync($"nfc analyze: {mapProblem}");
            return NfcCommandLine.Usage;
        }
        if (inventory.Images.Count == 0)
        {
            // Before the model is loaded: nothing to analyse is a failure a script must see, not "0 images" and exit 0.
            foreach (var skipped in inventory.Skipped) await Console.Error.WriteLineAsync($"{inventory.Shown(skipped)}  SKIPPED: {skipped.Reason}");
            await Console.Error.WriteLineAsync($"nfc analyze: no images to analyse in {target} (.jpg, .jpeg, .png, .tif, .tiff or .bmp" +
                (inventory.Skipped.Count > 0 ? $"; {inventory.Skipped.Count} entries skipped, listed above)." : ")."));
            return NfcCommandLine.Fatal;
        }
        if (umPerPx is { } given && !Calibration.IsPlausible(given))
        {
            await Console.Error.WriteLineAsync($"nfc analyze: --um-per-px must be {Calibration.PlausibleRange}.");
            return NfcCommandLine.Usage;
        }

        var scale = umPerPx ?? inventory.Manifest?.MicrometresPerPixel;
        // One image or a patient's folder: the study's study.json lies above it, and its scale holds here too.
        if (scale is null && inventory.Manifest is null)
        {
            try
            {
                if (ManifestAbove(inventory.StudyFolder, File.Exists(target)) is ({ MicrometresPerPixel: { } above }, var at))
                {
                    scale = above;
                    await Console.Error.WriteLineAsync($"nfc analyze: calibration {above.ToString(CultureInfo.InvariantCulture)} µm/px from {Path.Combine(at, StudyManifest.FileName)}, the manifest of the study this path lies in.");
                }
            }
            catch (Exception ex) when (ex is StudyLayoutException or IOException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"nfc analyze: the study.json above {target} cannot be read: {ex.Message.TrimEnd('.')}. Give --um-per-px, or mend it.");
                return NfcCommandLine.Usage;
            }
        }
        if (scale is null)
            await Console.Error.WriteLineAsync($"nfc analyze: no calibration given (--um-per-px or study.json um_per_px); assuming {FallbackMicrometresPerPixel} µm/px.");
        var calibration = new Calibration(scale ?? FallbackMicrometresPerPixel);

        if (InferenceArguments.AnalysisFromEnvironment("nfc analyze") is not { } analysisOptions) return NfcCommandLine.Usage;
        int maxBatch = parse.GetValue(inference.Batch);
        if (inference.Options(parse, "nfc analyze") is not { } inferenceOptions) return NfcCommandLine.Usage;
        var opened = await ModelLoading.TryOpenAsync(() => InferenceArguments.Open(inferenceOptions, maxBatch, analysisOptions), "nfc analyze");
        if (opened is null) return NfcCommandLine.Fatal;
        var (model, fields) = opened.Value;
        using var _ = model;
        await using var __ = fields.Analyzer;

        IAnalyzeOutput output = json ? new AnalyzeJsonOutput() : new AnalyzeTextOutput(model, inventory, calibration);
        output.Begin();
        var results = new List<(StudyImage Image, FieldOutcome Outcome)>();
        var files = inventory.Images.Select(i => (i.FullPath, calibration));
        await foreach (var outcome in fields.AnalyzeInOrderAsync(files, InferenceArguments.LookAhead(maxBatch), ct))
        {
            var image = inventory.Images[results.Count];
            output.Image(image, outcome);
            // Kept for the patients' summaries without its analysis: every instance's mask, for a thousand fields, was
            // held to the end.
            results.Add((image, outcome with { Analysis = null }));
        }
        foreach (var skipped in inventory.Skipped) output.Skipped(skipped with { RelativePath = inventory.Shown(skipped) });

        var aggregator = new PatientAggregator(analysisOptions);
        foreach (var group in results.Where(r => r.Image.Patient is not null).GroupBy(r => r.Image.Patient!))
        {
            var report = aggregator.Aggregate(group.Key, group.Select(r => new FieldResult(
                r.Image.ShownPath, r.Image.Finger ?? FieldResult.UnknownFinger, r.Outcome.Measurement, r.Outcome.Error)));
            output.Patient(report);
        }
        int analysed = results.Count(r => r.Outcome.Succeeded);
        output.End(analysed, results.Count - analysed, inventory.Skipped.Count);
        // As a study whose every image failed is a failed study: a script must not take "nothing analysed" for a result.
        if (results.Count > 0 && analysed == 0)
        {
            await Console.Error.WriteLineAsync($"nfc analyze: none of the {results.Count} images could be analysed; each one's reason is listed.");
            return NfcCommandLine.Fatal;
        }
        return NfcCommandLine.Success;
    }

    /// <summary>
    /// The nearest study.json in the <see cref="StudyLayout"/> levels above <paramref name="folder"/> (a finger's
    /// folder holds fields, a patient's fingers, a study's patients), from the folder itself when it holds the image
    /// analysed, and the folder that holds it; none: (null, "").
    /// </summary>
    private static (StudyManifest? Manifest, string Folder) ManifestAbove(string folder, bool holdsTheImage)
    {
        var full = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar);
        var current = holdsTheImage ? full : Path.GetDirectoryName(full);
        for (int level = holdsTheImage ? 0 : 1; level < 3 && current is not null; level++, current = Path.GetDirectoryName(current))
        {
            // A link at the name counts, its target gone or not: Read refuses such a one by name, as for the study itself.
            var manifest = new FileInfo(Path.Combine(current, StudyManifest.FileName));
            if (!manifest.Exists && manifest.LinkTarget is null && StudyManifest.MisnamedIn(current) is null) continue;
            return (StudyManifest.Read(current, SharePaths.RealPath(current)), current);
        }
        return (null, "");
    }

    private static StudyInventory Inventory(string target)
    {
        if (!File.Exists(target)) return StudyLayout.Discover(target);
        var full = Path.GetFullPath(target);
        var field = Path.GetFileNameWithoutExtension(full);
        return new StudyInventory(Path.GetDirectoryName(full)!, field, null, [new StudyImage(Path.GetFileName(full), full, null, null, field)], []);
    }
}
