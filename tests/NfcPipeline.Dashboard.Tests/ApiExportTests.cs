using System.Net;
using System.Text.Json;
using NfcPipeline.IntegrationTests.Infrastructure;
using static NfcPipeline.Dashboard.Tests.ApiTests;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>The HTTP API's JSON and CSV exports of results, against real PostgreSQL, with an operator API key.</summary>
public class ApiExportTests
{
    [Fact]
    public async Task Patient_metrics_come_as_json_and_csv()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Settings(data));
        using var client = Keyed(host);
        using var doc = JsonDocument.Parse(await client.GetStringAsync($"/api/patients/{data.PatientId}/metrics"));
        var result = doc.RootElement.GetProperty("results")[0];
        Assert.Equal("non-scleroderma", result.GetProperty("pattern").GetString());
        Assert.Equal(7.5, result.GetProperty("densityMean").GetDouble());
        Assert.Equal((1, 2.0), (result.GetProperty("failedFields").GetInt32(), result.GetProperty("umPerPx").GetDouble()));
        Assert.Equal(4, result.GetProperty("morphology").GetProperty("by_class").GetProperty("hairpin").GetProperty("count").GetInt32());
        Assert.Equal(64, result.GetProperty("model").GetProperty("sha256").GetString()!.Length);

        var csv = await client.GetAsync($"/api/patients/{data.PatientId}/metrics.csv");
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("study,patient,model,model_version,model_sha256,section,metric,value", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("STUDY-A,P01,nfc-dense,1.0,") && l.EndsWith(",summary,pattern,non-scleroderma"));
        Assert.Contains(lines, l => l.EndsWith(",morphology_class,bushy_count,2"));
        Assert.Contains(lines, l => l.EndsWith(",diameter_apical,mean_um,16"));
        Assert.Contains(lines, l => l.EndsWith(",finger_R3,density_mean_per_mm,8.0") || l.EndsWith(",finger_R3,density_mean_per_mm,8"));
        // The calibration and the failed fields, as the report page and patients.csv show them.
        Assert.Contains(lines, l => l.EndsWith(",summary,um_per_px,2") || l.EndsWith(",summary,um_per_px,2.0"));
        Assert.Contains(lines, l => l.EndsWith(",summary,failed_fields,1"));
    }

    [Fact]
    public async Task Study_exports_beyond_the_concurrent_limit_wait_their_turn_and_then_answer_503()
    {
        // Each export streams from an open query while its client downloads: slow downloads took the pool every page needs.
        await using var data = await TestData.CreateAsync();
        var settings = Settings(data);
        settings["Dashboard:MaxConcurrentExports"] = "1";
        settings["Dashboard:ExportQueueWait"] = "00:00:00.2";
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, settings);
        using var client = Keyed(host);
        var gate = (NfcPipeline.Dashboard.Api.ExportGate)host.Services.GetService(typeof(NfcPipeline.Dashboard.Api.ExportGate))!;

        using (var held = await gate.EnterAsync(default))   // a download still being read
        {
            Assert.NotNull(held);
            var refused = await client.GetAsync("/api/studies/STUDY-A/results.csv");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(30), refused.Headers.RetryAfter?.Delta);
            Assert.Contains("MaxConcurrentExports", await refused.Content.ReadAsStringAsync());
        }
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/studies/STUDY-A/patients.csv")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/studies/STUDY-A/results.csv")).StatusCode);   // the slot came back
    }

    [Fact]
    public async Task Study_results_csv_has_one_row_per_image_result()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Settings(data));
        using var client = Keyed(host);
        var text = await client.GetStringAsync("/api/studies/STUDY-A/results.csv");
        var lines = text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("study,patient,finger,field,rel_path,state,", lines[0]);
        Assert.Equal(4, lines.Length);
        Assert.Contains(lines, l => l.Contains("P01/L2/f1.png,succeeded,") && l.Contains(",7.5,"));
        Assert.EndsWith(",patient_pattern,notes,qc_exclusion,qc_excluded_by,qc_excluded_at", lines[0]);
        Assert.Contains(lines, l => l.Contains("P01/L2/f1.png,succeeded,")
            && l.EndsWith(",\"EXIF orientation 6 applied | Sparse distal row: 2 capillaries, fewer than 3.\",,,"));   // quoted: a comma; not excluded
        // The script-named patient's cell is quoted CSV text; the failed image keeps its error.
        Assert.Contains(lines, l => l.StartsWith("STUDY-A,<script>alert(1)</script>,L2,f1,<script>alert(1)</script>/L2/f1.png,failed,decode,the file is truncated"));
    }

    [Fact]
    public async Task Study_patients_csv_has_one_row_per_patient_result_with_its_provenance()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString, Settings(data));
        using var client = Keyed(host);

        var lines = (await client.GetStringAsync("/api/studies/STUDY-A/patients.csv")).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);

        var header = lines[0].Split(',');
        Assert.Equal(["study", "patient", "model", "model_version"], header[..4]);
        Assert.Contains("model_sha256", header);
        Assert.Contains("um_per_px", header);
        Assert.Contains("failed_fields", header);
        Assert.Equal(2, lines.Length);   // the one patient with a result
        var row = lines[1].Split(',');
        Assert.Equal(("STUDY-A", "P01", "non-scleroderma"), (row[0], row[1], row[Array.IndexOf(header, "pattern")]));
        Assert.Equal("7.50", row[Array.IndexOf(header, "density_mean_per_mm")]);   // the view rounds to 2 places
        Assert.Equal(["excluded_fields", "review_pending", "giant_unknown_count", "is_study_model"], header[^4..]);
        Assert.Equal(("0", "false", "true"), (row[^4], row[^3], row[^1]));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/studies/NOPE/patients.csv")).StatusCode);
    }
}
