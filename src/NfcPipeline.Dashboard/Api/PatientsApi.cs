using System.Text.Json;
using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Api;

/// <summary>GET /api/patients/{id}/metrics (JSON) and /api/patients/{id}/metrics.csv (id = patients.id).</summary>
public static class PatientsApi
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/api/patients/{id:long}/metrics", async (ReportingQueries queries, long id, CancellationToken ct) =>
        {
            var patient = await queries.PatientAsync(id, ct);
            if (patient is null) return Results.Problem($"There is no patient {id}.", statusCode: 404);
            var metrics = await queries.PatientMetricsAsync(id, ct);
            return Results.Ok(new
            {
                patientId = patient.Id, code = patient.Code, state = patient.State, studyId = patient.StudyExternalId,
                results = metrics.Select(m => new
                {
                    model = new { id = m.ModelId, name = m.ModelName, version = m.ModelVersion, sha256 = m.ModelSha256 },
                    m.GradableFields, m.UngradableFields, m.FailedFields, m.UmPerPx, m.DensityMean, m.DensityMedian, m.DensitySd, m.CapillaryCount, m.DilatedCount,
                    m.GiantCount, m.AbnormalCount, m.HemorrhageCount, m.Pattern, m.ComputedAt, m.ReviewPending,
                    ruleTrace = Json(m.RuleTrace), morphology = Json(m.Morphology), diameters = Json(m.Diameters),
                    perFinger = Json(m.PerFinger), settings = Json(m.Settings),
                }),
            });
        });

        app.MapGet("/api/patients/{id:long}/metrics.csv", async (HttpContext context, ReportingQueries queries, long id, CancellationToken ct) =>
        {
            var patient = await queries.PatientAsync(id, ct);
            if (patient is null) return Results.Problem($"There is no patient {id}.", statusCode: 404);
            var metrics = await queries.PatientMetricsAsync(id, ct);
            context.Response.ContentType = "text/csv; charset=utf-8";
            context.Response.Headers.ContentDisposition = $"attachment; filename=\"patient-{id}-metrics.csv\"";
            await using var writer = new StreamWriter(context.Response.Body, leaveOpen: true);
            await ReportCsv.WritePatientAsync(writer, patient, metrics);
            return Results.Empty;
        });
    }

    private static JsonElement Json(string json)
    {
        using var document = JsonDocument.Parse(json);   // its pooled buffers go back; the clone owns its own
        return document.RootElement.Clone();
    }
}
