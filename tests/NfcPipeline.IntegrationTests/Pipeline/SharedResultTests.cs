using Dapper;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Pipeline;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>One content in two studies shares one result: replacing it names the other study's patients.</summary>
public class SharedResultTests
{
    [Fact]
    public async Task A_chunk_replacing_a_result_another_studys_patient_was_aggregated_from_names_that_patient()
    {
        // Their image results showed the new result while their patient results stayed aggregated from the old one.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var a = await ResubmissionRaceTests.SeedAsync(db, 1);
        long studyB, patientB, imageB;
        await using (var c = await db.OpenConnectionAsync())
        {
            studyB = await c.ExecuteScalarAsync<long>("""
                insert into studies (external_id, source_path, um_per_px, state, model_id) values ('other', 'other', 2.0, 'processing', @ModelId) returning id
                """, new { a.ModelId });
            patientB = await c.ExecuteScalarAsync<long>("insert into patients (study_id, code, state) values (@studyB, 'Q1', 'processing') returning id", new { studyB });
            imageB = await c.ExecuteScalarAsync<long>("""
                insert into images (study_id, patient_id, field, rel_path, sha256, size_bytes, state)
                values (@studyB, @patientB, 'f0', 'Q1/L2/f0.png', @sha, 1, 'processing') returning id
                """, new { studyB, patientB, sha = a.Shas[0] });
        }
        var results = new ResultStore(db);
        var jobs = new JobStore(db);
        async Task<ChunkWrite> WriteAsync(long studyId, long imageId)
        {
            var loaded = await results.LoadChunkImagesAsync([imageId], default);
            var job = (await jobs.CreateChunksAsync(studyId, [imageId], 1, false, default))[0].JobId;
            var analysed = new AnalysedImage(imageId, a.Shas[0], [], ResubmissionRaceTests.OldMeasurement());
            return (await results.WriteChunkAsync(new ChunkResult(job, a.ModelId, [analysed], [], [], "{}", loaded), default))!;
        }

        var first = await WriteAsync(a.StudyId, a.ImageIds[0]);
        Assert.Empty(first.SharingPatients!);   // nothing replaced
        // Its patient aggregated from that result under this model.
        await using (var c = await db.OpenConnectionAsync())
            await c.ExecuteAsync("""
                insert into patient_metrics (patient_id, model_id, gradable_fields, ungradable_fields, capillary_count, dilated_count, giant_count,
                                             abnormal_count, hemorrhage_count, pattern, rule_trace, morphology, diameters)
                values (@PatientId, @ModelId, 1, 0, 3, 0, 0, 0, 0, 'non_scleroderma', '{}', '{}', '{}')
                """, new { a.PatientId, a.ModelId });

        var second = await WriteAsync(studyB, imageB);

        Assert.Equal([patientB], second.Patients);
        Assert.Equal([a.PatientId], second.SharingPatients);
        await using var check = await db.OpenConnectionAsync();
        Assert.Equal(1L, await check.ExecuteScalarAsync<long>("select count(*) from image_metrics"));
        // A study moved on to another model keeps this model's patient rows, which show the result: named still.
        await check.ExecuteAsync("update studies set model_id = null where id = @StudyId", new { a.StudyId });
        Assert.Equal([a.PatientId], (await WriteAsync(studyB, imageB)).SharingPatients);
        // A patient never aggregated under this model has nothing to recompute: not named.
        await check.ExecuteAsync("delete from patient_metrics where patient_id = @PatientId", new { a.PatientId });
        Assert.Empty((await WriteAsync(studyB, imageB)).SharingPatients!);
    }
}
