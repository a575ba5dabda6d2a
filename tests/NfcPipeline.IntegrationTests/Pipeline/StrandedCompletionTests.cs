using Dapper;
using NfcPipeline.Contracts;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Pipeline;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>
/// A study whose completion was lost (its registration's or a chunk's message failed after the commit, past its
/// retries) stayed processing for ever, its patients too: nothing was left to aggregate them. A sweep completes it.
/// </summary>
public class StrandedCompletionTests
{
    [Fact]
    public async Task A_study_is_stranded_only_when_every_image_is_done_and_quiet_and_it_is_still_processing()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await ResubmissionRaceTests.SeedAsync(db, 2);
        var store = new PatientResultsStore(db);
        var quiet = TimeSpan.FromMinutes(10);
        async Task<IReadOnlyList<StrandedStudy>> Stranded(long? model = null) => await store.StrandedStudiesAsync(model ?? s.ModelId, quiet, 10, default);
        async Task Exec(string sql)
        {
            await using var c = await db.OpenConnectionAsync();
            await c.ExecuteAsync(sql, new { s.StudyId });
        }

        await Exec("update studies set registered_at = now() - interval '1 hour'; update images set updated_at = now() - interval '1 hour'");
        Assert.Empty(await Stranded());   // images still processing: a chunk has them

        await Exec("update images set state = 'failed', updated_at = now() - interval '1 minute'");
        Assert.Empty(await Stranded());   // done a minute ago: its consumer is completing it

        await Exec("update images set updated_at = now() - interval '11 minutes'");
        var stranded = Assert.Single(await Stranded());
        Assert.Equal(s.StudyId, stranded.StudyId);
        Assert.Equal([s.PatientId], stranded.ProcessingPatients);
        Assert.Equal(s.ModelId, stranded.ModelId);
        Assert.Empty(await store.StrandedStudiesAsync(s.ModelId, quiet, 10, default, skip: [s.StudyId]));   // backing off after failures
        // Another model's workers leave it to this one's while one of them runs; once none has for the quiet time (the
        // fleet moved to another model), they complete it from its own model's results.
        await Exec("insert into workers (id, host, pid, model_sha256) select 'old:1:0', 'old', 1, sha256 from models");
        Assert.Empty(await Stranded(s.ModelId + 1000));
        await Exec("update workers set heartbeat_at = now() - interval '11 minutes'");
        Assert.Equal(s.ModelId, Assert.Single(await Stranded(s.ModelId + 1000)).ModelId);
        await Exec("update workers set heartbeat_at = now(), state = 'stopped'");
        Assert.Single(await Stranded(s.ModelId + 1000));

        await Exec("update studies set registered_at = now()");
        Assert.Empty(await Stranded());   // just registered again: its registration is completing it
        await Exec("update studies set registered_at = now() - interval '1 hour'; update patients set state = 'completed_with_errors'");
        Assert.Empty(Assert.Single(await Stranded()).ProcessingPatients);   // patients done, the study not: still stranded
        await Exec("update studies set state = 'completed_with_errors'");
        Assert.Empty(await Stranded());
    }

    /// <summary>A worker sweeping every second for what stood still 2 s, and one study of 2 images it completed.</summary>
    private static async Task<PipelineEnvironment> CompletedWithQuickSweepAsync(string study)
    {
        var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy(study, patients: 1, imagesPerPatient: 2);
        await env.StartWorkerAsync(new Dictionary<string, string>
        {
            ["Worker__StrandedAfter"] = "00:00:02",
            ["Worker__StrandedSweepInterval"] = "00:00:01",
        });
        await env.SubmitAsync(new SubmitStudy { StudyId = study, FolderPath = study });
        Assert.Equal("completed", await env.WaitForStudyAsync(study, TimeSpan.FromMinutes(1)));
        return env;
    }

    [Fact]
    public async Task A_review_whose_recompute_request_was_lost_is_aggregated_again_by_the_sweep()
    {
        // The exclusion committed, its ReaggregatePatient never sent (the dashboard stopped between the two, or the
        // message went past its retries): the patient's stored figures stayed those before the review, for good.
        await using var env = await CompletedWithQuickSweepAsync("study-pending");
        var before = await env.QueryScalarAsync<DateTime>("select computed_at from patient_metrics");

        // Pending as the review commits, read in its own transaction: read after, a sweep may have caught up already.
        Assert.True(await env.QueryScalarAsync<bool>("""
            begin;
            update images set qc_exclusion = 'an air bubble over the row', qc_excluded_by = 'test', qc_excluded_at = clock_timestamp(),
                              qc_changed_at = clock_timestamp()
            where id = (select min(id) from images);
            select review_pending from v_patient_summary;
            commit;
            """));
        await PipelineEnvironment.WaitUntilAsync(async () => !await env.QueryScalarAsync<bool>("select review_pending from v_patient_summary"),
            TimeSpan.FromSeconds(60), () => env.Workers[0].Output);
        Assert.True(await env.QueryScalarAsync<DateTime>("select computed_at from patient_metrics") > before);
        Assert.Contains("a review changed its fields over", env.Workers[0].Output);
    }

    [Fact]
    public async Task The_sweep_aggregates_again_another_model_s_result_a_review_left_behind()
    {
        // The study's model's result took the review; another model's kept result did not (the best-effort step after a
        // reanalysis failed): the sweep looked at the study's model only, and the other stayed review_pending for good.
        await using var env = await CompletedWithQuickSweepAsync("study-other");
        const string Other = "select review_pending from v_patient_summary where model_sha256 = encode(sha256('other'::bytea), 'hex')";
        // Pending as the setup commits, read in its own transaction: the sweep (the review a minute old) may act at once.
        Assert.True(await env.QueryScalarAsync<bool>($$$"""
            begin;
            with m as (insert into models (sha256, name, contract) values (sha256('other'::bytea), 'other', 'dense/v1') returning id)
            insert into patient_metrics (patient_id, model_id, gradable_fields, ungradable_fields, capillary_count, dilated_count, giant_count,
                                         abnormal_count, hemorrhage_count, pattern, rule_trace, morphology, diameters, settings, um_per_px, computed_at)
            select p.id, m.id, 2, 0, 20, 0, 0, 0, 0, 'non_scleroderma', '[]', '{}', '{}', '{"analysis": {}}', 2.0, now() - interval '1 hour'
            from patients p, m;
            update images set qc_exclusion = 'blur', qc_excluded_by = 'test', qc_excluded_at = clock_timestamp() - interval '1 minute',
                              qc_changed_at = clock_timestamp() - interval '1 minute'
            where id = (select min(id) from images);
            update patient_metrics set computed_at = clock_timestamp() where model_id = (select model_id from studies);
            {{{Other}}};
            commit;
            """));

        await PipelineEnvironment.WaitUntilAsync(async () => !await env.QueryScalarAsync<bool>(Other), TimeSpan.FromSeconds(60), () => env.Workers[0].Output);
        Assert.False(await env.QueryScalarAsync<bool>("select bool_or(review_pending) from v_patient_summary"));
        Assert.Contains("a review changed its fields over", env.Workers[0].Output);
    }

    [Fact]
    public async Task A_worker_completes_a_stranded_study_and_announces_it()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        await env.StartWorkerAsync(new Dictionary<string, string>
        {
            ["Worker__StrandedAfter"] = "00:00:02",
            ["Worker__StrandedSweepInterval"] = "00:00:01",
        });
        // As a first registration leaves it when its message fails after the commit: patients pending (the sweep took only
        // processing ones and never completed it), and here every image failed long ago (a chunk's fault marked them)
        // with no completion run.
        async Task<(long Study, long Patient)> StrandedAsync(string id, long model, string content)
        {
            var study = await env.QueryScalarAsync<long>("""
                insert into studies (external_id, source_path, um_per_px, state, model_id, registered_at)
                values (@id, @id, 2.0, 'processing', @model, now()) returning id
                """, new { id, model });
            var patient = await env.QueryScalarAsync<long>("insert into patients (study_id, code) values (@study, 'P1') returning id", new { study });
            await env.QueryScalarAsync<long>("""
                insert into images (study_id, patient_id, finger, field, rel_path, sha256, size_bytes, state, error_code, error, updated_at)
                values (@study, @patient, 'L2', 'f1', 'P1/L2/f1.png', sha256(@content::bytea), 1, 'failed', 'Truncated', 'the file is truncated',
                        now() - interval '1 hour')
                returning id
                """, new { study, patient, content });
            // Registered just now while it is built, then long ago: a sweep between the patient and its image completed
            // the patient without it, and the study as completed (a clean-clone CI run met it).
            await env.QueryScalarAsync<long>("update studies set registered_at = now() - interval '1 hour' where id = @study returning id", new { study });
            return (study, patient);
        }
        var (study, patient) = await StrandedAsync("stranded", await env.QueryScalarAsync<long>("select id from models"), "x");

        Assert.Equal("completed_with_errors", await env.WaitForStudyAsync("stranded", TimeSpan.FromSeconds(60)));
        Assert.Equal("completed_with_errors", await env.QueryScalarAsync<string>("select state from patients where id = @patient", new { patient }));
        Assert.Equal(1L, await env.QueryScalarAsync<long>("select count(*) from patient_metrics where patient_id = @patient", new { patient }));
        // Both transitions announced, as their consumers would have.
        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>(
            "select count(*) from completion_events where study_id = @study and published_at is not null", new { study }) == 2, TimeSpan.FromSeconds(30));
        Assert.Contains("not completed; completing it", env.Workers[0].Output);

        // One of a model the fleet no longer runs (no worker of it has a heartbeat): completed from that model's results.
        var old = await env.QueryScalarAsync<long>("insert into models (sha256, name, contract) values (sha256('old'::bytea), 'old', 'dense/v1') returning id");
        var (_, oldPatient) = await StrandedAsync("stranded-old", old, "y");
        Assert.Equal("completed_with_errors", await env.WaitForStudyAsync("stranded-old", TimeSpan.FromSeconds(60)));
        Assert.Equal(old, await env.QueryScalarAsync<long>("select model_id from patient_metrics where patient_id = @oldPatient", new { oldPatient }));
        // No image result of that model to take settings from: named by its hash, not by this worker's model.
        Assert.True(await env.QueryScalarAsync<bool>(
            "select settings ->> 'model_sha256' = encode(sha256('old'::bytea), 'hex') from patient_metrics where patient_id = @oldPatient", new { oldPatient }));

        // With a field that model analysed, its patient's result is named by the settings of that analysis, not by this
        // worker's model and settings. Registered just now while it is built, so the sweep takes it whole.
        var named = await env.QueryScalarAsync<long>("""
            with s as (insert into studies (external_id, source_path, um_per_px, state, model_id, registered_at)
                       values ('stranded-named', 'stranded-named', 2.0, 'processing', @old, now()) returning id),
                 p as (insert into patients (study_id, code) select id, 'P1' from s returning id, study_id),
                 i as (insert into images (study_id, patient_id, finger, field, rel_path, sha256, size_bytes, state, result_um_per_px, updated_at)
                       select study_id, id, 'L2', 'f1', 'P1/L2/f1.png', sha256('z'::bytea), 1, 'succeeded', 2.0, now() - interval '1 hour' from p returning id),
                 m as (insert into image_metrics (image_sha256, model_id, um_per_px, width, height, instance_count, gradable, settings)
                       values (sha256('z'::bytea), @old, 2.0, 640, 480, 0, false, '{"model_sha256": "the-old-models", "analysis": {}}') returning 1)
            select p.id from p, i, m
            """, new { old });
        await env.QueryScalarAsync<int>("update studies set registered_at = now() - interval '1 hour' where external_id = 'stranded-named'; select 1");
        Assert.Equal("completed", await env.WaitForStudyAsync("stranded-named", TimeSpan.FromSeconds(60)));
        Assert.Equal("the-old-models", await env.QueryScalarAsync<string>(
            "select settings ->> 'model_sha256' from patient_metrics where patient_id = @named", new { named }));
        Assert.Contains("which no running worker has loaded", env.Workers[0].Output);
    }
}
