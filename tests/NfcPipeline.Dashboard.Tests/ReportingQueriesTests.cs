using NfcPipeline.Storage.Reporting;
using Npgsql;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>Reporting queries against a real database, where a number must agree with the stored aggregation.</summary>
public class ReportingQueriesTests
{
    [Fact]
    public async Task The_report_histograms_take_the_loops_of_gradable_fields_only_as_the_diameter_statistics_do()
    {
        await using var data = await TestData.CreateAsync();
        await using var db = NpgsqlDataSource.Create(data.Database.ConnectionString);
        var queries = new ReportingQueries(db);
        Assert.Equal(6, (await queries.PatientDiametersAsync(data.PatientId, data.ModelId)).Count);   // 3 loops in each of 2 fields

        // A blurred capillary and a hemorrhage in the first field, and the second field graded ungradable.
        await data.Database.ScalarAsync<int>($$"""
            with first as (select sha256 from images where id = {{data.ImageIds[0]}}),
                 added as (insert into capillaries (image_sha256, model_id, instance_index, class_name, category, score, box, mask_rle, mask_area, keypoints, apical_um, um_per_px)
                           select sha256, {{data.ModelId}}, 10 + n, c, c2, 0.9, '{0,0,1,1}', '{0,1}', 1, '{}', 30, 2.0
                           from first, (values (0, 'blur', 'ungradable'), (1, 'hemorrhage', 'hemorrhage')) as v(n, c, c2) returning 1),
                 graded as (update image_metrics set gradable = false where image_sha256 = (select sha256 from images where id = {{data.ImageIds[1]}}) returning 1)
            select ((select count(*) from added) + (select count(*) from graded))::int
            """);

        var diameters = await queries.PatientDiametersAsync(data.PatientId, data.ModelId);
        Assert.Equal(3, diameters.Count);
        Assert.DoesNotContain(diameters, d => d.ApicalUm == 30);
    }

    [Fact]
    public async Task The_share_notes_shown_are_the_refusals_and_then_the_latest_seen()
    {
        // Cut by root and folder, a folder noted a minute ago could be left off for one noted a month ago.
        await using var data = await TestData.CreateAsync();
        await using var db = NpgsqlDataSource.Create(data.Database.ConnectionString);
        await data.Database.ScalarAsync<object>("""
            insert into share_folder_notes (root, folder, state, reason, last_seen) values
              ('/s', 'a-old', 'waiting', 'x', now() - interval '30 days'),
              ('/s', 'b-new', 'waiting', 'x', now()),
              ('/s', 'z-refused', 'refused', 'x', now() - interval '60 days')
            """);
        var notes = await new ReportingQueries(db).ShareFolderNotesAsync(limit: 2);
        Assert.Equal(["z-refused", "b-new"], notes.Select(n => n.Folder));
        Assert.Equal(["z-refused", "a-old", "b-new"], (await new ReportingQueries(db).ShareFolderNotesAsync()).Select(n => n.Folder));
    }

    [Fact]
    public async Task A_study_shows_the_results_of_its_own_models_not_another_studys_model_on_the_same_content()
    {
        await using var data = await TestData.CreateAsync();
        await using var db = NpgsqlDataSource.Create(data.Database.ConnectionString);
        // Model B analysed the same content later, for another study: newer results at the same calibration, and no
        // patient results of this study's patients.
        await data.Database.ScalarAsync<int>($$"""
            with b as (insert into models (sha256, name, version, contract) values (sha256('b'), 'other', '2.0', 'dense/v1') returning id)
            insert into image_metrics (image_sha256, model_id, um_per_px, width, height, instance_count, distal_count, density_per_mm, row_length_mm, gradable, analysed_at)
            select i.sha256, b.id, 2.0, 320, 240, 9, 9, 99, 0.5, true, now() + interval '1 hour' from images i, b where i.id = {{data.ImageIds[0]}}
            returning 1
            """);

        var page = await new ReportingQueries(db).ImagesAsync(data.StudyId);
        Assert.Equal(7.5, page.Single(i => i.Id == data.ImageIds[0]).DensityPerMm);   // was B's 99
        Assert.Equal(0L, await data.Database.ScalarAsync<long>("select count(*) from v_image_results where model = 'other'"));
        Assert.Equal(3L, await data.Database.ScalarAsync<long>("select count(*) from v_image_results"));   // one row per image
        var csv = new StringWriter();
        await ReportCsv.WriteStudyResultsAsync(csv, db, data.StudyId);
        Assert.DoesNotContain(",other,", csv.ToString());
        Assert.Equal(4, csv.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);   // header and 3 images
    }

    [Fact]
    public async Task A_patient_folder_renamed_by_the_patients_map_is_shown_by_its_code_and_the_file_still_opened_by_its_path()
    {
        // As study.json's {"patients": {"P01": "anon-1"}} registers it: the folder, often the patient's name, keeps its
        // name on disk; every listing and export shows the code.
        await using var data = await TestData.CreateAsync();
        await using var db = NpgsqlDataSource.Create(data.Database.ConnectionString);
        await data.Database.ScalarAsync<int>($"update patients set code = 'anon-1' where id = {data.PatientId} returning 1");
        var queries = new ReportingQueries(db);

        var shown = (await queries.ImagesAsync(data.StudyId, data.PatientId)).Select(i => i.RelPath).Order();
        Assert.Equal(["anon-1/L2/f1.png", "anon-1/R3/f1.png"], shown);
        Assert.Equal("anon-1/L2/f1.png,anon-1/R3/f1.png", await data.Database.ScalarAsync<string>(
            "select string_agg(rel_path, ',' order by rel_path) from v_image_results where patient = 'anon-1'"));
        var csv = new StringWriter();
        await ReportCsv.WriteStudyResultsAsync(csv, db, data.StudyId);
        Assert.Contains(",anon-1/L2/f1.png,", csv.ToString());
        Assert.DoesNotContain("P01", csv.ToString());

        Assert.Equal("P01/L2/f1.png", (await queries.ImageSourceAsync(data.ImageIds[0]))!.RelPath);   // what the overlay opens
    }

    [Fact]
    public async Task An_image_of_a_study_submitted_as_a_list_is_shown_as_code_finger_and_file_name()
    {
        // A list's paths are relative to the share root: "P01/..." replaced its first segment, a share folder, and kept
        // the folders after it, which may name the patient.
        await using var data = await TestData.CreateAsync();
        await using var db = NpgsqlDataSource.Create(data.Database.ConnectionString);
        await data.Database.ScalarAsync<int>($"update studies set source_path = null where id = {data.StudyId} returning 1");
        await data.Database.ScalarAsync<int>($"update images set rel_path = 'incoming/Doe-Jane-1961/' || rel_path where patient_id = {data.PatientId} returning 1");
        await data.Database.ScalarAsync<int>($"update images set finger = null where id = {data.ImageIds[1]} returning 1");

        var shown = (await new ReportingQueries(db).ImagesAsync(data.StudyId, data.PatientId)).Select(i => i.RelPath).Order();
        Assert.Equal(["P01/L2/f1.png", "P01/f1.png"], shown);
        Assert.Equal("P01/L2/f1.png,P01/f1.png", await data.Database.ScalarAsync<string>(
            "select string_agg(rel_path, ',' order by finger nulls last) from v_image_results where patient = 'P01'"));
        var csv = new StringWriter();
        await ReportCsv.WriteStudyResultsAsync(csv, db, data.StudyId);
        Assert.Contains(",P01/L2/f1.png,", csv.ToString());
        Assert.DoesNotContain("Doe-Jane", csv.ToString());
        Assert.DoesNotContain("incoming", csv.ToString());
    }

    [Fact]
    public async Task The_report_and_its_csv_name_what_the_model_says_it_was_trained_on()
    {
        await using var data = await TestData.CreateAsync();
        await using var db = NpgsqlDataSource.Create(data.Database.ConnectionString);
        await data.Database.ScalarAsync<int>(
            """update models set metadata = '{"nfc.training_data": "nfc-sim 3 seed 11 (8000 steps, synthetic only)"}' returning 1""");
        var queries = new ReportingQueries(db);

        var metrics = (await queries.PatientMetricsAsync(data.PatientId)).Single();
        Assert.Contains("by the model nfc-dense 1.0, trained on nfc-sim 3 seed 11 (8000 steps, synthetic only);",
            NfcPipeline.Dashboard.Rendering.PatientReportView.ResearchUseNotice(metrics));
        var csv = new StringWriter();
        await ReportCsv.WritePatientAsync(csv, (await queries.PatientAsync(data.PatientId))!, [metrics]);
        Assert.Contains(",summary,model_training_data,\"nfc-sim 3 seed 11 (8000 steps, synthetic only)\"", csv.ToString());
    }

    [Fact]
    public async Task The_studys_model_is_shown_first_though_another_models_result_was_computed_later()
    {
        // A field review re-aggregates the study's model first and the others after it: the newest was an older model's.
        await using var data = await TestData.CreateAsync();
        await using var db = NpgsqlDataSource.Create(data.Database.ConnectionString);
        await data.Database.ScalarAsync<int>("""
            with old as (insert into models (sha256, name, version, contract) values (sha256('old'::bytea), 'nfc-old', '0.9', 'dense/v1') returning id)
            insert into patient_metrics (patient_id, model_id, gradable_fields, ungradable_fields, density_mean, density_median, density_sd,
                capillary_count, dilated_count, giant_count, abnormal_count, hemorrhage_count, pattern, rule_trace, morphology, diameters,
                per_finger, settings, um_per_px, failed_fields, computed_at)
            select patient_id, old.id, gradable_fields, ungradable_fields, 2.0, 2.0, 0, capillary_count, dilated_count, giant_count,
                abnormal_count, hemorrhage_count, 'scleroderma_late', rule_trace, morphology, diameters, per_finger, settings, um_per_px,
                failed_fields, now() + interval '1 minute'
            from patient_metrics, old;
            select 1
            """);
        var queries = new ReportingQueries(db);

        var p01 = (await queries.PatientsAsync(data.StudyId)).Single(p => p.Id == data.PatientId);
        Assert.Equal(("non-scleroderma", "nfc-dense 1.0"), (p01.Pattern, p01.Model));
        Assert.Equal(data.ModelId, (await queries.PatientMetricsAsync(data.PatientId))[0].ModelId);
        var report = await NfcPipeline.Dashboard.Rendering.PatientReport.LoadAsync(queries, data.PatientId, null, default);
        Assert.Equal(data.ModelId, report!.Metrics!.ModelId);
        Assert.Equal(2, report.AllModels.Count);

        // A patient with more images than a report lists says so where they are listed (it was cut without a word).
        Assert.False(report.ImagesCut);
        var cut = await NfcPipeline.Dashboard.Rendering.PatientReport.LoadAsync(queries, data.PatientId, null, default, maxImages: 1);
        Assert.True(cut!.ImagesCut);
        Assert.Single(cut.Images);
        var html = NfcPipeline.Dashboard.Rendering.PatientReportView.Sections(cut, withGallery: true).Value;
        Assert.Equal(2, html.Split("Only the first 1 of this patient's images are listed here").Length - 1);   // gallery and provenance
        Assert.DoesNotContain("images-cut", NfcPipeline.Dashboard.Rendering.PatientReportView.Sections(report, withGallery: true).Value);
    }

    [Fact]
    public async Task Percent_done_rounds_as_the_sql_view_does_for_every_count_up_to_200_images()
    {
        await using var data = await TestData.CreateAsync();
        await using var db = NpgsqlDataSource.Create(data.Database.ConnectionString);
        await using var c = await db.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(
            "select n, d, round(100.0 * d / greatest(n, 1), 1)::float8 from generate_series(1, 200) n, generate_series(0, n) d", c);
        await using var reader = await command.ExecuteReaderAsync();
        int rows = 0;
        while (await reader.ReadAsync())
        {
            long n = reader.GetInt32(0), d = reader.GetInt32(1);
            Assert.True(reader.GetDouble(2) == StudyProgress.Percent(d, n), $"{d} of {n}: SQL {reader.GetDouble(2)}, C# {StudyProgress.Percent(d, n)}");
            rows++;
        }
        Assert.Equal(20300, rows);
        Assert.Equal(6.3, StudyProgress.Percent(1, 16));   // 6.25: half away from zero, as round(numeric)
    }
}
