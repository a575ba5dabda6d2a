using System.Text.Json;
using System.Text.Json.Serialization;
using NfcPipeline.Core.Aggregation;
using NfcPipeline.Inference.Engine;
using NfcPipeline.Intake;

namespace NfcPipeline.Cli.Output;

/// <summary>JSON lines: one object per image (its instances and measurements, or its error), per skipped entry, per patient.</summary>
internal sealed class AnalyzeJsonOutput : IAnalyzeOutput
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public void Begin() { }

    public void Image(StudyImage image, FieldOutcome outcome)
    {
        if (!outcome.Succeeded)
        {
            Write(new { type = "image", image = image.ShownPath, patient = image.Patient, finger = image.Finger,
                        error = new { code = outcome.ErrorCode, message = outcome.Error } });
            return;
        }
        var (a, m) = (outcome.Analysis!, outcome.Measurement!);
        var distal = m.DistalRow.Indices.ToHashSet();
        var measured = m.Capillaries.ToDictionary(c => c.Index);
        Write(new
        {
            type = "image", image = image.ShownPath, patient = image.Patient, finger = image.Finger,
            width = a.Width, height = a.Height, format = a.Format.ToString(), notes = a.Notes,
            um_per_px = m.MicrometresPerPixel, distal_count = m.DistalCount, density_per_mm = m.DensityPerMm,
            row_length_mm = m.DistalRow.LineLengthMm, hemorrhages = m.HemorrhageCount,
            gradable = m.Grading.IsGradable, ungradable_reason = m.Grading.IsGradable ? null : m.Grading.Explanation,
            quality = m.Quality.ToString(),
            instances = a.Instances.Select((inst, i) =>
            {
                var c = measured[i];
                return new
                {
                    @class = inst.ClassName, category = c.Category.ToString(), score = inst.Score,
                    box = new[] { inst.Box.X1, inst.Box.Y1, inst.Box.X2, inst.Box.Y2 }, mask_area = inst.Mask.Area,
                    keypoints = inst.Keypoints.Select(k => new[] { k.X, k.Y, k.Confidence }),
                    apical_um = c.ApicalDiameterUm, arterial_um = c.ArterialDiameterUm, venous_um = c.VenousDiameterUm,
                    loop_height_um = c.LoopHeightUm, loop_width_um = c.LoopWidthUm,
                    dilated = c.IsDilated, giant = c.IsGiant, distal = distal.Contains(i), apex_cut_by_frame = c.ApexCutByFrame,
                };
            }),
        });
    }

    public void Skipped(SkippedEntry entry) => Write(new { type = "skipped", image = entry.RelativePath, reason = entry.Reason });

    public void Patient(PatientReport report) => Write(new
    {
        type = "patient", patient = report.PatientId, overall = report.Overall,
        fingers = report.Fingers, fast_track = new
        {
            pattern = report.FastTrack.Pattern, sub_pattern = report.FastTrack.SubPattern, summary = report.FastTrack.Summary,
            inputs = report.FastTrack.Inputs, trace = report.FastTrack.Trace,
        },
    });

    public void End(int succeeded, int failed, int skipped) =>
        Write(new { type = "summary", images = succeeded + failed, analysed = succeeded, failed, skipped });

    private static void Write<T>(T value) => Console.WriteLine(JsonSerializer.Serialize(value, Json));
}
