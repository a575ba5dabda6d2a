using Dapper;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Pipeline;
using Npgsql;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>
/// Another model's patient results after a resubmission, against the real database: kept while the patient's images
/// and calibration are as they were, dropped when they changed (they described images the study no longer has, and the
/// exports listed them beside the current model's as if current).
/// </summary>
public class OtherModelResultsTests
{
    private static async Task<long> OtherModelWithResultsAsync(NpgsqlDataSource db, ResubmissionRaceTests.Seeded s)
    {
        await using var c = await db.OpenConnectionAsync();
        long other = await c.ExecuteScalarAsync<long>(
            "insert into models (sha256, name, contract) values (sha256('other'::bytea), 'other', 'dense/v1') returning id");
        foreach (long model in new[] { s.ModelId, other })
            await c.ExecuteAsync("""
                insert into patient_metrics (patient_id, model_id, gradable_fields, ungradable_fields, capillary_count, dilated_count,
                                             giant_count, abnormal_count, hemorrhage_count, pattern, rule_trace, morphology, diameters, um_per_px)
                values (@PatientId, @model, 3, 0, 30, 0, 0, 0, 0, 'non_scleroderma', '[]', '{}', '{}', 2.0)
                """, new { s.PatientId, model });
        return other;
    }

    private static async Task<long[]> ModelsWithResultsAsync(NpgsqlDataSource db, long patientId)
    {
        await using var c = await db.OpenConnectionAsync();
        return (await c.QueryAsync<long>("select model_id from patient_metrics where patient_id = @patientId order by model_id", new { patientId })).ToArray();
    }

    [Fact]
    public async Task An_unchanged_resubmission_keeps_another_models_patient_results()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var s = await ResubmissionRaceTests.SeedAsync(migrated.Db, 3);
        long other = await OtherModelWithResultsAsync(migrated.Db, s);
        await using var c = await migrated.Db.OpenConnectionAsync();
        await c.ExecuteAsync("update studies set registered_at = now() - interval '1 day'");

        await new StudyRegistrationStore(migrated.Db).RegisterAsync(ResubmissionRaceTests.SubmittedAgain(s), s.ModelId, 2.0, false, 10, "{}", default);

        Assert.Equal([s.ModelId, other], await ModelsWithResultsAsync(migrated.Db, s.PatientId));
        // Every registration is stamped (`nfc enqueue --wait` waits for one after its own submission).
        Assert.True(await c.ExecuteScalarAsync<bool>("select registered_at > now() - interval '1 minute' from studies"));
    }

    [Fact]
    public async Task A_replaced_image_drops_another_models_patient_results_and_keeps_the_current_models_until_it_recomputes()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var s = await ResubmissionRaceTests.SeedAsync(migrated.Db, 3);
        await OtherModelWithResultsAsync(migrated.Db, s);

        byte[] replaced = System.Security.Cryptography.SHA256.HashData("new field"u8.ToArray());
        await new StudyRegistrationStore(migrated.Db).RegisterAsync(ResubmissionRaceTests.SubmittedAgain(s, sha: i => i == 0 ? replaced : s.Shas[i]), s.ModelId, 2.0, false, 10, "{}", default);

        Assert.Equal([s.ModelId], await ModelsWithResultsAsync(migrated.Db, s.PatientId));
    }

    [Fact]
    public async Task Other_models_results_computed_before_a_review_are_found_for_aggregating_again()
    {
        // A review made while the patient was analysed again reached only the analysing model's result; the patient's
        // completion looks for the others it left behind.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var s = await ResubmissionRaceTests.SeedAsync(migrated.Db, 3);
        long other = await OtherModelWithResultsAsync(migrated.Db, s);
        var store = new PatientResultsStore(migrated.Db);
        await using var c = await migrated.Db.OpenConnectionAsync();
        await c.ExecuteAsync("update patient_metrics set settings = '{\"analysis\": {}}', computed_at = now() - interval '1 hour'");
        Assert.Empty(await store.OtherResultsBehindReviewAsync(s.PatientId, s.ModelId, default));

        await c.ExecuteAsync("update images set qc_exclusion = 'blur', qc_excluded_at = now(), qc_changed_at = now() - interval '10 minutes' where id = @id", new { id = s.ImageIds[0] });

        var (model, settings) = Assert.Single(await store.OtherResultsBehindReviewAsync(s.PatientId, s.ModelId, default));
        Assert.Equal((other, "{\"analysis\": {}}"), (model, settings));   // not the analysing model's own
        await c.ExecuteAsync("update patient_metrics set computed_at = now() where model_id = @other", new { other });
        Assert.Empty(await store.OtherResultsBehindReviewAsync(s.PatientId, s.ModelId, default));
    }

    [Fact]
    public async Task A_removed_image_or_a_new_calibration_drops_another_models_patient_results()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var s = await ResubmissionRaceTests.SeedAsync(migrated.Db, 3);
        var registrations = new StudyRegistrationStore(migrated.Db);
        await OtherModelWithResultsAsync(migrated.Db, s);

        var fewer = ResubmissionRaceTests.SubmittedAgain(s);
        await registrations.RegisterAsync(fewer with { Images = fewer.Images.Take(2).ToList() }, s.ModelId, 2.0, false, 10, "{}", default);
        Assert.Equal([s.ModelId], await ModelsWithResultsAsync(migrated.Db, s.PatientId));

        await using (var c = await migrated.Db.OpenConnectionAsync())
            await c.ExecuteAsync("delete from patient_metrics; delete from models where name = 'other'");
        await OtherModelWithResultsAsync(migrated.Db, s);
        await registrations.RegisterAsync(fewer with { Images = fewer.Images.Take(2).ToList(), UmPerPx = 2.5 }, s.ModelId, 2.5, false, 10, "{}", default);
        Assert.Equal([s.ModelId], await ModelsWithResultsAsync(migrated.Db, s.PatientId));
    }

    [Fact]
    public async Task Images_analysed_by_another_model_only_are_fields_without_a_result_said_so_not_a_silent_gap()
    {
        // An old failed chunk requeued after a model change: the new model analysed only that image, and the patient's
        // result was built from it alone, completed, looking whole.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await ResubmissionRaceTests.SeedAsync(db, 3);
        await using (var c = await db.OpenConnectionAsync())
            await c.ExecuteAsync("update images set state = 'succeeded', result_um_per_px = 2.0");   // results of another model only

        var outcome = await new PatientResultsStore(db).AggregateIfDoneAsync(s.PatientId, s.ModelId, new Core.Aggregation.PatientAggregator(), "{}", default);

        Assert.NotNull(outcome);
        Assert.Equal(3, outcome.FailedImages);
        await using var check = await db.OpenConnectionAsync();
        Assert.Equal("completed_with_errors", await check.ExecuteScalarAsync<string>("select state from patients where id = @PatientId", new { s.PatientId }));
        Assert.Equal(3, await check.ExecuteScalarAsync<int>("select failed_fields from patient_metrics where patient_id = @PatientId", new { s.PatientId }));
        // Its study completes with errors too, though no image failed (it was 'completed', and its retry action hidden).
        var study = await new PatientResultsStore(db).CompleteStudyIfDoneAsync(s.StudyId, default);
        Assert.Equal("completed_with_errors", study?.State);
    }
}
