using NfcPipeline.Contracts;
using NfcPipeline.Imaging;
using NfcPipeline.Intake;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>Submitting a study again after something changed: a calibration, one patient's image, a stranded image.</summary>
public class ResubmissionTests
{
    /// <summary>A running worker and one study analysed to completion: the state every test here starts from.</summary>
    // These fields are 256 px wide: at 1.5 µm/px their rows are shorter than DistalRowOptions.MinRowLengthMm (0.5 mm),
    // which the tests of a density scaled by the calibration turn off.
    private static readonly Dictionary<string, string> AnyRowLength = new() { ["Analysis__DistalRow__MinRowLengthMm"] = "0" };

    private static async Task<(PipelineEnvironment Env, IReadOnlyList<string> Images)> CompletedStudyAsync(string study, int patients, int imagesPerPatient)
    {
        var env = await PipelineEnvironment.CreateAsync();
        var images = env.WriteStudy(study, patients, imagesPerPatient);
        await env.StartWorkerAsync(AnyRowLength);
        await env.SubmitAsync(new SubmitStudy { StudyId = study, FolderPath = study });
        Assert.Equal("completed", await env.WaitForStudyAsync(study, TimeSpan.FromMinutes(2)));
        return (env, images);
    }

    private static async Task ResubmitAsync(PipelineEnvironment env, string study)
    {
        // The wait below must not see the first run's final state before the worker registers the new submission.
        await env.QueryScalarAsync<long>("update studies set state = 'processing' where external_id = @Id returning 1", new { Id = study });
        await env.SubmitAsync(new SubmitStudy { StudyId = study, FolderPath = study });
    }

    [Fact]
    public async Task A_corrected_calibration_has_the_images_analysed_again_at_the_new_scale()
    {
        var (env, _) = await CompletedStudyAsync("study-k", patients: 1, imagesPerPatient: 2);
        await using var owned = env;
        var density = await env.QueryScalarAsync<double>("select sum(density_per_mm) from image_metrics");

        File.WriteAllText(Path.Combine(env.Share.FullName, "study-k", "study.json"), """{"um_per_px": 1.5, "device": "test"}""");
        await ResubmitAsync(env, "study-k");
        Assert.Equal("completed", await env.WaitForStudyAsync("study-k", TimeSpan.FromMinutes(2)));

        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from image_metrics where um_per_px = 1.5"));
        Assert.Equal(4L, await env.QueryScalarAsync<long>("select count(*) from image_metrics"));   // those at 2.0 stay, for any study at 2.0
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from images where result_um_per_px = 1.5"));
        // The same pixels over a shorter row: density per mm grows by 2.0 / 1.5.
        Assert.Equal(density * 2.0 / 1.5, await env.QueryScalarAsync<double>("select sum(density_per_mm) from v_image_results"), 6);
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from jobs"));   // one chunk per run
        Assert.Equal("completed", await env.QueryScalarAsync<string>("select state from patients"));
    }

    [Fact]
    public async Task A_calibration_given_with_a_submission_holds_over_a_later_one_that_gives_none()
    {
        // nfc enqueue --um-per-px 1.5 corrected the scale; the share watcher's next submission (an image added) gave none,
        // took study.json's 2.0 again and analysed every image again at the scale the operator had corrected.
        var (env, _) = await CompletedStudyAsync("study-g", patients: 1, imagesPerPatient: 2);
        await using var owned = env;
        File.WriteAllText(Path.Combine(env.Share.FullName, "study-g", "study.json"), """{"um_per_px": 2.0}""");
        await env.QueryScalarAsync<long>("update studies set state = 'processing' returning 1");
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-g", FolderPath = "study-g", MicrometresPerPixel = 1.5 });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-g", TimeSpan.FromMinutes(2)));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from images where result_um_per_px = 1.5"));
        var jobs = await env.QueryScalarAsync<long>("select count(*) from jobs");

        await ResubmitAsync(env, "study-g");
        Assert.Equal("completed", await env.WaitForStudyAsync("study-g", TimeSpan.FromMinutes(2)));
        Assert.Equal(1.5, await env.QueryScalarAsync<double>("select um_per_px from studies"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from images where result_um_per_px = 1.5"));
        Assert.Equal(jobs, await env.QueryScalarAsync<long>("select count(*) from jobs"));   // nothing analysed again
        await PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(env.Workers[0].Output.Contains("the 1.5 µm/px given with an earlier one holds")),
            TimeSpan.FromSeconds(10), () => env.Workers[0].Output);

        // study.json's own calibration edited: a newer word than the one given, followed.
        File.WriteAllText(Path.Combine(env.Share.FullName, "study-g", "study.json"), """{"um_per_px": 1.7}""");
        await ResubmitAsync(env, "study-g");
        Assert.Equal("completed", await env.WaitForStudyAsync("study-g", TimeSpan.FromMinutes(2)));
        Assert.Equal(1.7, await env.QueryScalarAsync<double>("select um_per_px from studies"));

        // Given again, another one replaces it; study.json's own, given as such, reads as study.json's from then on.
        File.WriteAllText(Path.Combine(env.Share.FullName, "study-g", "study.json"), """{"um_per_px": 2.0}""");
        await env.QueryScalarAsync<long>("update studies set state = 'processing' returning 1");
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-g", FolderPath = "study-g", MicrometresPerPixel = 2.0 });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-g", TimeSpan.FromMinutes(2)));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from images where result_um_per_px = 2.0"));
        File.WriteAllText(Path.Combine(env.Share.FullName, "study-g", "study.json"), """{"um_per_px": 1.8}""");
        await ResubmitAsync(env, "study-g");
        Assert.Equal("completed", await env.WaitForStudyAsync("study-g", TimeSpan.FromMinutes(2)));
        Assert.Equal(1.8, await env.QueryScalarAsync<double>("select um_per_px from studies"));
    }

    [Fact]
    public async Task A_review_made_during_a_reanalysis_reaches_the_patients_other_models_results_when_it_completes()
    {
        // The other model's result answered "still being analysed" to the review's request; its last chunk aggregated
        // only the analysing model, and the other stayed review_pending until someone pressed "Recompute now".
        var (env, _) = await CompletedStudyAsync("study-r", patients: 1, imagesPerPatient: 2);
        await using var owned = env;
        var other = await env.QueryScalarAsync<long>("""
            with m as (insert into models (sha256, name, contract) values (sha256('other'::bytea), 'other', 'dense/v1') returning id)
            insert into patient_metrics (patient_id, model_id, gradable_fields, ungradable_fields, capillary_count, dilated_count, giant_count,
                                         abnormal_count, hemorrhage_count, pattern, rule_trace, morphology, diameters, settings, um_per_px, computed_at)
            select p.id, m.id, 2, 0, 20, 0, 0, 0, 0, 'non_scleroderma', '[]', '{}', '{}', '{"analysis": {}}', 2.0, now() - interval '1 hour'
            from patients p, m returning model_id
            """);
        // The other model's own results of both fields (gradable, 8 /mm), at the study's calibration.
        await env.QueryScalarAsync<int>("""
            insert into image_metrics (image_sha256, model_id, um_per_px, width, height, instance_count, distal_count, density_per_mm, gradable, settings)
            select sha256, @other, 2.0, 640, 480, 0, 4, 8.0, true, '{"analysis": {}}' from images;
            update images set qc_exclusion = 'blur', qc_excluded_at = now(), qc_changed_at = now()
            where id = (select min(id) from images); select 1
            """, new { other });

        await env.QueryScalarAsync<long>("update studies set state = 'processing' where external_id = 'study-r' returning 1");
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-r", FolderPath = "study-r", Reanalyze = true });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-r", TimeSpan.FromMinutes(2)));

        // The figures and the log line, which reaches the captured output a moment after the commit.
        await PipelineEnvironment.WaitUntilAsync(async () => !await env.QueryScalarAsync<bool>(
                "select review_pending from v_patient_summary where model_sha256 = encode(sha256('other'::bytea), 'hex')")
            && env.Workers[0].Output.Contains($"the result of model #{other} aggregated again for a review made meanwhile", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), () => env.Workers[0].Output);
        // From that model's own results, the excluded field left out: one gradable field of two, none failed.
        Assert.Equal("1|0|8.00", await env.QueryScalarAsync<string>(
            "select gradable_fields || '|' || failed_fields || '|' || density_mean_per_mm from v_patient_summary where model_sha256 = encode(sha256('other'::bytea), 'hex')"));
        // A row per model: the study's own is marked, and each says over how many loops the giant flag is unknown.
        Assert.Equal("false|true", await env.QueryScalarAsync<string>(
            "select string_agg(is_study_model::text, '|' order by is_study_model) from v_patient_summary where study = 'study-r'"));
        // So do the morphology, diameter and image views: filtered on it, each patient and field counts once.
        // (The other model's result found no loop, so it has no morphology row.)
        foreach (var view in new[] { "v_patient_diameters", "v_image_results" })
            Assert.Equal("false|true", await env.QueryScalarAsync<string>(
                $"select string_agg(distinct is_study_model::text, '|') from {view} where study = 'study-r'"));
        Assert.True(await env.QueryScalarAsync<bool>("select bool_and(is_study_model) from v_patient_morphology where study = 'study-r'"));
        Assert.Equal("4|2", await env.QueryScalarAsync<string>(
            "select count(*) || '|' || count(*) filter (where is_study_model) from v_image_results where study = 'study-r'"));
        Assert.Equal(0L, await env.QueryScalarAsync<long>("""
            select count(*) from (select diameter from v_patient_diameters where study = 'study-r' and is_study_model
                                  group by patient, diameter having count(*) > 1) twice
            """));
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from v_patient_summary where study = 'study-r' and giant_unknown_count is null"));
    }

    [Fact]
    public async Task One_image_in_two_studies_at_different_calibrations_keeps_each_studys_results()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        var images = env.WriteStudy("site-a", patients: 1, imagesPerPatient: 2);
        var copy = Path.Combine(env.Share.FullName, "site-b");
        foreach (var image in images)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(copy, image))!);
            File.Copy(Path.Combine(env.Share.FullName, "site-a", image), Path.Combine(copy, image));
        }
        File.WriteAllText(Path.Combine(copy, "study.json"), """{"um_per_px": 1.5}""");
        await env.StartWorkerAsync(AnyRowLength);
        await env.SubmitAsync(new SubmitStudy { StudyId = "A", FolderPath = "site-a" });
        Assert.Equal("completed", await env.WaitForStudyAsync("A", TimeSpan.FromMinutes(2)));
        const string densityOfA = "select sum(density_per_mm) from v_image_results where study = 'A'";
        var density = await env.QueryScalarAsync<double>(densityOfA);
        var patientDensity = await env.QueryScalarAsync<double>("select density_mean_per_mm::float8 from v_patient_summary where study = 'A'");

        await env.SubmitAsync(new SubmitStudy { StudyId = "B", FolderPath = "site-b" });
        Assert.Equal("completed", await env.WaitForStudyAsync("B", TimeSpan.FromMinutes(2)));

        // A's images still read A's calibration; B's read B's, from the same image content.
        Assert.Equal(density, await env.QueryScalarAsync<double>(densityOfA), 9);
        Assert.Equal(2.0, await env.QueryScalarAsync<double>("select max(um_per_px) from v_image_results where study = 'A'"));
        Assert.Equal(density * 2.0 / 1.5, await env.QueryScalarAsync<double>("select sum(density_per_mm) from v_image_results where study = 'B'"), 6);
        Assert.Equal(4L, await env.QueryScalarAsync<long>("select count(*) from image_metrics"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from v_image_results where study = 'A'"));   // one row each, not two

        // A resubmitted reuses its own results, at its own calibration, and its patient's numbers do not move.
        await env.QueryScalarAsync<long>("update studies set state = 'processing' where external_id = 'A' returning 1");
        await env.SubmitAsync(new SubmitStudy { StudyId = "A", FolderPath = "site-a" });
        Assert.Equal("completed", await env.WaitForStudyAsync("A", TimeSpan.FromMinutes(2)));
        Assert.Equal(density, await env.QueryScalarAsync<double>(densityOfA), 9);
        Assert.Equal(patientDensity, await env.QueryScalarAsync<double>("select density_mean_per_mm::float8 from v_patient_summary where study = 'A'"));
        Assert.Equal(1L, await env.QueryScalarAsync<long>("select count(*) from jobs where study_id = (select id from studies where external_id = 'A')"));   // all reused: no new chunk
    }

    [Fact]
    public async Task A_reanalysis_replacing_a_result_another_study_shares_aggregates_that_studys_patient_again()
    {
        // Its image results showed the replacing result at once, while its patient results stayed as aggregated from the
        // replaced one until it was resubmitted too.
        await using var env = await PipelineEnvironment.CreateAsync();
        var images = env.WriteStudy("site-a", patients: 1, imagesPerPatient: 2);
        foreach (var image in images)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(env.Share.FullName, "site-b", image))!);
            File.Copy(Path.Combine(env.Share.FullName, "site-a", image), Path.Combine(env.Share.FullName, "site-b", image));
        }
        await env.StartWorkerAsync();
        foreach (var (study, folder) in new[] { ("A", "site-a"), ("B", "site-b") })
        {
            await env.SubmitAsync(new SubmitStudy { StudyId = study, FolderPath = folder });
            Assert.Equal("completed", await env.WaitForStudyAsync(study, TimeSpan.FromMinutes(2)));
        }
        const string countOfA = "select pm.capillary_count from patient_metrics pm join patients p on p.id = pm.patient_id join studies s on s.id = p.study_id where s.external_id = 'A'";
        var count = await env.QueryScalarAsync<int>(countOfA);
        // As if A's patient had been aggregated from other numbers (another worker's settings, say).
        await env.QueryScalarAsync<long>($"update patient_metrics set capillary_count = 9999 where patient_id = (select p.id from patients p join studies s on s.id = p.study_id where s.external_id = 'A') returning 1");

        await env.QueryScalarAsync<long>("update studies set state = 'processing' where external_id = 'B' returning 1");
        await env.SubmitAsync(new SubmitStudy { StudyId = "B", FolderPath = "site-b", Reanalyze = true });
        Assert.Equal("completed", await env.WaitForStudyAsync("B", TimeSpan.FromMinutes(2)));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (await env.QueryScalarAsync<int>(countOfA) == 9999 && DateTime.UtcNow < deadline) await Task.Delay(200);
        Assert.Equal(count, await env.QueryScalarAsync<int>(countOfA));
    }

    [Fact]
    public async Task Replacing_one_patients_image_completes_every_patient_and_the_study()
    {
        var (env, images) = await CompletedStudyAsync("study-p", patients: 2, imagesPerPatient: 2);
        await using var owned = env;

        var replaced = images.First(i => i.StartsWith("P002/", StringComparison.Ordinal));
        File.WriteAllBytes(Path.Combine(env.Share.FullName, "study-p", replaced), PngEncoder.Encode(ColourStudy.Image(256, 192, seed: 99_999)));
        await ResubmitAsync(env, "study-p");
        // Registered once its chunk exists: a late completion re-check of the first run (a chunk republished by the
        // outbox and found done) could otherwise complete the study again before the registration, as CI once saw.
        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>("select count(*) from jobs") == 3, TimeSpan.FromMinutes(2));

        Assert.Equal("completed", await env.WaitForStudyAsync("study-p", TimeSpan.FromMinutes(2)));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from patients where state = 'completed'"));
        Assert.Equal(5L, await env.QueryScalarAsync<long>("select count(*) from image_metrics"));   // the old content's result stays
        Assert.Equal(3L, await env.QueryScalarAsync<long>("select count(*) from jobs"));           // two chunks, then the one image
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from patient_metrics"));
    }

    [Fact]
    public async Task An_image_left_queued_without_a_chunk_is_queued_again_by_a_resubmission()
    {
        var (env, images) = await CompletedStudyAsync("study-s", patients: 1, imagesPerPatient: 2);
        await using var owned = env;

        // As a worker killed between registration and chunk creation leaves it: queued, no result, no job.
        await env.QueryScalarAsync<long>("""
            with img as (update images set state = 'queued' where rel_path = @Path returning sha256)
            delete from image_metrics where image_sha256 = (select sha256 from img) returning 1
            """, new { Path = images[0] });
        await ResubmitAsync(env, "study-s");

        Assert.Equal("completed", await env.WaitForStudyAsync("study-s", TimeSpan.FromMinutes(2)));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from images where state = 'succeeded'"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from image_metrics"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from jobs"));
    }

    [Fact]
    public async Task A_second_folder_under_a_registered_study_id_is_refused_and_the_first_study_is_untouched()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("batch1", patients: 2, imagesPerPatient: 1);
        env.WriteStudy("batch2", patients: 1, imagesPerPatient: 1);
        var worker = await env.StartWorkerAsync();
        await env.SubmitAsync(new SubmitStudy { StudyId = "SSc-2026", FolderPath = "batch1" });
        Assert.Equal("completed", await env.WaitForStudyAsync("SSc-2026", TimeSpan.FromMinutes(2)));

        await env.SubmitAsync(new SubmitStudy { StudyId = "SSc-2026", FolderPath = "batch2" });
        await PipelineEnvironment.WaitUntilAsync(async () => await env.Vhost.QueueDepthAsync("submit-study_error") >= 1,
            TimeSpan.FromMinutes(1), () => worker.Output);

        Assert.Contains("already registered from folder 'batch1'", worker.Output);
        // Noted for the share's page (the message itself sits in the _error queue): the folder, and why.
        Assert.Equal("batch2 registration_refused", await env.QueryScalarAsync<string>("select folder || ' ' || state from share_folder_notes"));
        Assert.Contains("already registered from folder 'batch1'", await env.QueryScalarAsync<string>("select reason from share_folder_notes"));
        Assert.Equal("batch1", await env.QueryScalarAsync<string>("select source_path from studies"));
        Assert.Equal("completed", await env.QueryScalarAsync<string>("select state from studies"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from patient_metrics"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from images where state = 'succeeded'"));

        // The other way round: the registered folder under another id (study_id corrected in study.json, a link to the
        // folder) was registered as a second study of the same images.
        await env.SubmitAsync(new SubmitStudy { StudyId = "SSc-2026-final", FolderPath = "batch1" });
        await PipelineEnvironment.WaitUntilAsync(async () => await env.Vhost.QueueDepthAsync("submit-study_error") >= 2
            && worker.Output.Contains("Folder 'batch1' is already registered as study 'SSc-2026'"), TimeSpan.FromMinutes(1), () => worker.Output);
        Assert.Equal(1L, await env.QueryScalarAsync<long>("select count(*) from studies"));
        Assert.Contains("delete study 'SSc-2026' first", await env.QueryScalarAsync<string>("select reason from share_folder_notes where folder = 'batch1'"));
    }

    [Fact]
    public async Task A_renamed_study_folder_keeps_its_study_and_an_exclusion_follows_its_field_into_a_renamed_patient_folder()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("batch1", patients: 2, imagesPerPatient: 1);
        var worker = await env.StartWorkerAsync();
        await env.SubmitAsync(new SubmitStudy { StudyId = "SSc-2026", FolderPath = "batch1" });
        Assert.Equal("completed", await env.WaitForStudyAsync("SSc-2026", TimeSpan.FromMinutes(2)));
        await env.QueryScalarAsync<long>("""
            update images set qc_exclusion = 'air bubble', qc_excluded_by = 'test', qc_excluded_at = now(), qc_changed_at = now()
            where rel_path = 'P001/L2/field1.png' returning 1
            """);

        // The study folder renamed, and a patient folder in it (a name taken out): the same study, nothing analysed again.
        Directory.Move(Path.Combine(env.Share.FullName, "batch1"), Path.Combine(env.Share.FullName, "batch1-final"));
        Directory.Move(Path.Combine(env.Share.FullName, "batch1-final", "P001"), Path.Combine(env.Share.FullName, "batch1-final", "P001-a"));
        await env.QueryScalarAsync<long>("update studies set state = 'processing' returning 1");
        await env.SubmitAsync(new SubmitStudy { StudyId = "SSc-2026", FolderPath = "batch1-final" });
        Assert.Equal("completed", await env.WaitForStudyAsync("SSc-2026", TimeSpan.FromMinutes(2)));

        Assert.Equal("batch1-final", await env.QueryScalarAsync<string>("select source_path from studies"));
        Assert.Contains("takes the study over", worker.Output);
        Assert.Equal(1L, await env.QueryScalarAsync<long>("select count(*) from jobs"));   // the first run's chunk only
        Assert.Equal("air bubble", await env.QueryScalarAsync<string>("select qc_exclusion from images where rel_path = 'P001-a/L2/field1.png'"));
        Assert.Equal("P001-a,P002", await env.QueryScalarAsync<string>("select string_agg(code, ',' order by code) from patients"));
        Assert.Equal(0L, await env.Vhost.QueueDepthAsync("submit-study_error"));

        // Deleted, and the id reused by a folder of other images: refused, not taken over.
        Directory.Delete(Path.Combine(env.Share.FullName, "batch1-final"), recursive: true);
        env.WriteStudy("other", patients: 1, imagesPerPatient: 1, width: 320);
        await env.SubmitAsync(new SubmitStudy { StudyId = "SSc-2026", FolderPath = "other" });
        await PipelineEnvironment.WaitUntilAsync(async () => await env.Vhost.QueueDepthAsync("submit-study_error") >= 1,
            TimeSpan.FromMinutes(1), () => worker.Output);
        Assert.Equal("batch1-final", await env.QueryScalarAsync<string>("select source_path from studies"));
    }

    [Theory]
    // As if the file had been replaced while its chunk waited: the registered hash no longer matches the content.
    [InlineData("sha256(sha256)", "The file changed after the study was registered")]
    // Unreadable at registration (its path's stand-in hash), readable now: it said the file had changed.
    [InlineData("sha256(convert_to('nfc:unreadable:' || rel_path, 'UTF8'))", "The file was not read when the study was registered")]
    public async Task A_file_changed_after_registration_fails_with_that_reason_and_stores_nothing_under_the_old_hash(string registered, string reason)
    {
        var (env, images) = await CompletedStudyAsync("study-h", patients: 1, imagesPerPatient: 2);
        await using var owned = env;

        var imageId = await env.QueryScalarAsync<long>(
            $"update images set sha256 = {registered}, state = 'queued' where rel_path = @Path returning id", new { Path = images[0] });
        var studyId = await env.QueryScalarAsync<long>("update studies set state = 'processing' returning id");
        var jobId = await env.QueryScalarAsync<long>("""
            insert into jobs (kind, study_id, payload)
            values ('analyze_chunk', @StudyId, jsonb_build_object('image_ids', jsonb_build_array(@ImageId), 'reanalyze', false)) returning id
            """, new { StudyId = studyId, ImageId = imageId });
        // As chunk creation does: the image now belongs to the new chunk.
        await env.QueryScalarAsync<long>("update images set chunk_job_id = @JobId where id = @ImageId returning id", new { JobId = jobId, ImageId = imageId });
        await env.PublishAsync(new AnalyzeImages { JobId = jobId, StudyDbId = studyId, ImageIds = [imageId] });

        Assert.Equal("completed_with_errors", await env.WaitForStudyAsync("study-h", TimeSpan.FromMinutes(2)));
        Assert.Equal("ChangedSinceRegistration", await env.QueryScalarAsync<string>("select error_code from images where id = @Id", new { Id = imageId }));
        Assert.StartsWith(reason, await env.QueryScalarAsync<string>("select error from images where id = @Id", new { Id = imageId }));
        Assert.Equal(0L, await env.QueryScalarAsync<long>(
            "select count(*) from image_metrics where image_sha256 = (select sha256 from images where id = @Id)", new { Id = imageId }));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from image_metrics"));   // the first run's, untouched
    }

    [Fact]
    public async Task A_file_unchanged_since_the_last_registration_is_not_read_again_and_a_replaced_one_or_a_reanalysis_is()
    {
        var (env, images) = await CompletedStudyAsync("study-t", patients: 1, imagesPerPatient: 2);
        await using var owned = env;
        var path = Path.Combine(env.Share.FullName, "study-t", images[0]);
        const string ofFile = "from images where rel_path = @Path";
        var registered = await env.QueryScalarAsync<byte[]>("select sha256 " + ofFile, new { Path = images[0] });
        async Task RegisteredAgainAsync(int unchanged, SubmitStudy? message = null)
        {
            int before = Registered(env);
            await env.QueryScalarAsync<long>("update studies set state = 'processing' returning 1");
            await env.SubmitAsync(message ?? new SubmitStudy { StudyId = "study-t", FolderPath = "study-t" });
            await PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(Registered(env) > before), TimeSpan.FromMinutes(2));
            var said = System.Text.RegularExpressions.Regex.Matches(env.Workers[0].Output, @"2 images \((\d+) unchanged since the last registration");
            Assert.Equal(unchanged.ToString(System.Globalization.CultureInfo.InvariantCulture), said[^1].Groups[1].Value);
            Assert.Contains(await env.WaitForStudyAsync("study-t", TimeSpan.FromMinutes(2)), new[] { "completed", "completed_with_errors" });
        }

        // A registration moments after the files were written keeps no stamp (racy): the next reads them again and
        // stamps them. Then a registration reads neither.
        if (await env.QueryScalarAsync<long>("select count(*) from images where file_stamp is null") > 0)
        {
            await Task.Delay(FileStamps.RacyWindow + TimeSpan.FromSeconds(1.5));
            await RegisteredAgainAsync(unchanged: 0);
        }
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from images where file_stamp is null"));
        await RegisteredAgainAsync(unchanged: 2);
        Assert.Equal(1L, await env.QueryScalarAsync<long>("select count(*) from jobs"));   // nothing analysed again

        // Other bytes of the same size, the modification time set back (cp -a): read again, the new content registered.
        var time = File.GetLastWriteTimeUtc(path);
        var bytes = File.ReadAllBytes(path);
        bytes[^20] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
        File.SetLastWriteTimeUtc(path, time);
        await Task.Delay(FileStamps.RacyWindow + TimeSpan.FromSeconds(1.5));
        await RegisteredAgainAsync(unchanged: 1);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(bytes), await env.QueryScalarAsync<byte[]>("select sha256 " + ofFile, new { Path = images[0] }));
        Assert.NotEqual(registered, System.Security.Cryptography.SHA256.HashData(bytes));

        // A reanalysis reads every file.
        await RegisteredAgainAsync(unchanged: 0, new SubmitStudy { StudyId = "study-t", FolderPath = "study-t", Reanalyze = true });
    }

    private static int Registered(PipelineEnvironment env) =>
        System.Text.RegularExpressions.Regex.Count(env.Workers[0].Output, "unchanged since the last registration");
}
