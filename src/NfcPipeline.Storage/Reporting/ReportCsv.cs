using System.Globalization;
using System.Text.Json;
using Npgsql;

namespace NfcPipeline.Storage.Reporting;

/// <summary>CSV exports (RFC 4180), shared by the dashboard, the API and `nfc report`.</summary>
public static class ReportCsv
{
    public static readonly string[] PatientColumns = ["study", "patient", "model", "model_version", "model_sha256", "section", "metric", "value"];

    /// <summary>
    /// A patient's metrics in long form (one metric per row, one block per model), so every morphology class and
    /// diameter statistic has its own row whatever the model's class names are.
    /// </summary>
    public static async Task WritePatientAsync(TextWriter w, PatientHeader patient, IReadOnlyList<PatientMetricsRow> metrics)
    {
        await WriteRowAsync(w, PatientColumns);
        foreach (var m in metrics)
        {
            async Task Row(string section, string metric, object? value) =>
                await WriteRowAsync(w, [patient.StudyExternalId, patient.Code, m.ModelName, m.ModelVersion, m.ModelSha256, section, metric, Format(value)]);

            await Row("summary", "pattern", m.Pattern);
            // A review since: the figures below do not show it yet (as the patient page and v_patient_summary say).
            await Row("summary", "review_pending", m.ReviewPending);
            await Row("summary", "gradable_fields", m.GradableFields);
            await Row("summary", "ungradable_fields", m.UngradableFields);
            await Row("summary", "failed_fields", m.FailedFields);
            await Row("summary", "um_per_px", m.UmPerPx);
            await Row("summary", "density_mean_per_mm", m.DensityMean);
            await Row("summary", "density_median_per_mm", m.DensityMedian);
            await Row("summary", "density_sd_per_mm", m.DensitySd);
            await Row("summary", "capillary_count", m.CapillaryCount);
            await Row("summary", "dilated_count", m.DilatedCount);
            await Row("summary", "giant_count", m.GiantCount);
            await Row("summary", "abnormal_count", m.AbnormalCount);
            await Row("summary", "hemorrhage_count", m.HemorrhageCount);
            await Row("summary", "computed_at", m.ComputedAt.ToString("O", CultureInfo.InvariantCulture));
            // The export names what the figures come from, as the report's notice does (the reference model: simulated images only).
            await Row("summary", "model_training_data", m.ModelTrainingData);
            using var morphology = JsonDocument.Parse(m.Morphology);
            foreach (var group in new[] { "by_category", "by_class" })
                if (morphology.RootElement.ValueKind == JsonValueKind.Object && morphology.RootElement.TryGetProperty(group, out var g)
                    && g.ValueKind == JsonValueKind.Object)
                    foreach (var entry in g.EnumerateObject())
                    {
                        await Row("morphology_" + group[3..], entry.Name + "_count", Json(entry.Value, "count"));
                        await Row("morphology_" + group[3..], entry.Name + "_percent", Json(entry.Value, "percent"));
                    }
            using var diameters = JsonDocument.Parse(m.Diameters);
            if (diameters.RootElement.ValueKind == JsonValueKind.Object)
                foreach (var d in diameters.RootElement.EnumerateObject())
                    if (d.Value.ValueKind == JsonValueKind.Object)
                        foreach (var stat in d.Value.EnumerateObject())
                            await Row("diameter_" + d.Name, stat.Name + (stat.Name == "n" ? "" : "_um"), Scalar(stat.Value));
            using var perFinger = JsonDocument.Parse(m.PerFinger);
            if (perFinger.RootElement.ValueKind == JsonValueKind.Object)
                foreach (var f in perFinger.RootElement.EnumerateObject())
                    if (f.Value.ValueKind == JsonValueKind.Object)
                        foreach (var stat in f.Value.EnumerateObject())
                            await Row("finger_" + f.Name, stat.Name is "density_mean" or "density_sd" ? stat.Name + "_per_mm" : stat.Name, Scalar(stat.Value));
        }
        await w.FlushAsync();
    }

    public static readonly string[] StudyColumns =
    [
        "study", "patient", "finger", "field", "rel_path", "state", "error_code", "error", "image_sha256", "model", "model_version",
        "model_sha256", "um_per_px", "instance_count", "distal_count", "density_per_mm", "row_length_mm", "hemorrhage_count",
        "gradable", "ungradable_reason", "quality", "analysed_at", "patient_pattern", "notes", "qc_exclusion", "qc_excluded_by",
        "qc_excluded_at",
    ];

    /// <summary>
    /// One row per (image, model result) of the study, streamed from the database: the results of the models that
    /// analysed this study (as <c>v_image_results</c>), not another study's of the same content.
    /// </summary>
    public static async Task WriteStudyResultsAsync(TextWriter w, NpgsqlDataSource dataSource, long studyId, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            select s.external_id, p.code, i.finger, i.field, shown_image_path(p.code, i.finger, i.rel_path, s.source_path is not null), i.state, i.error_code, i.error, encode(i.sha256, 'hex'),
                   m.name, m.version, encode(m.sha256, 'hex'), r.um_per_px, r.instance_count, r.distal_count, r.density_per_mm,
                   r.row_length_mm, r.hemorrhage_count, r.gradable, r.ungradable_reason, r.quality, r.analysed_at, pm.pattern,
                   array_to_string(r.notes, ' | '), i.qc_exclusion, i.qc_excluded_by, i.qc_excluded_at
            from images i
            join patients p on p.id = i.patient_id
            join studies s on s.id = i.study_id
            left join image_metrics r on r.image_sha256 = i.sha256 and r.um_per_px = i.result_um_per_px
                and (r.model_id = s.model_id
                     or exists (select 1 from patient_metrics pm2 where pm2.patient_id = i.patient_id and pm2.model_id = r.model_id))
            left join models m on m.id = r.model_id
            left join patient_metrics pm on pm.patient_id = p.id and pm.model_id = r.model_id
            where i.study_id = @studyId
            order by p.code, i.finger, i.field, i.rel_path, m.id
            """, c);
        cmd.Parameters.AddWithValue("studyId", studyId);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        // Nothing written before the query answered: a database away is then the API's 503, not a cut-off 200.
        await WriteRowAsync(w, StudyColumns);
        await WriteRowsAsync(w, reader, ct);
    }

    /// <summary>
    /// One row per patient result of the study (per model, where more than one analysed it): <c>v_patient_summary</c>'s
    /// columns, in its order, so a statistician's table has the results with their model, calibration, failed fields
    /// and software version beside them.
    /// </summary>
    public static async Task WriteStudyPatientsAsync(TextWriter w, NpgsqlDataSource dataSource, string studyExternalId, CancellationToken ct = default)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand("select * from v_patient_summary where study = @study order by patient, model, model_sha256", c);
        cmd.Parameters.AddWithValue("study", studyExternalId);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await WriteRowAsync(w, Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray());
        await WriteRowsAsync(w, reader, ct);
    }

    /// <summary>Every row the reader has left, each cell formatted as <see cref="Format"/> does; then flushes.</summary>
    private static async Task WriteRowsAsync(TextWriter w, NpgsqlDataReader reader, CancellationToken ct)
    {
        var values = new string?[reader.FieldCount];
        while (await reader.ReadAsync(ct))
        {
            for (var i = 0; i < values.Length; i++)
                values[i] = reader.IsDBNull(i) ? null : Format(reader.GetValue(i));
            await WriteRowAsync(w, values);
        }
        await w.FlushAsync(ct);
    }

    public static async Task WriteRowAsync(TextWriter w, IReadOnlyList<string?> cells)
    {
        for (var i = 0; i < cells.Count; i++)
        {
            if (i > 0) await w.WriteAsync(',');
            await w.WriteAsync(Escape(cells[i]));
        }
        await w.WriteAsync("\r\n");
    }

    /// <summary>Quotes when needed, and defuses cells a spreadsheet would run as a formula (names come from folders).</summary>
    public static string Escape(string? value)
    {
        if (string.IsNullOrEmpty(value)) return "";
        if (value[0] is '=' or '+' or '-' or '@' or '\t' or '\r' && !double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            value = "'" + value;
        return value.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
    }

    public static string? Format(object? value) => value switch
    {
        null or DBNull => null,
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        DateTime t => t.ToString("O", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    private static string? Json(JsonElement e, string name) => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? Scalar(v) : null;

    private static string? Scalar(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.String => v.GetString(),
        _ => v.GetRawText(),
    };
}
