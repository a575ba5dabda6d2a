using Dapper;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Pipeline;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>
/// The µm/px an uncalibrated study is analysed at, against the real database: fixed at its registration (migration
/// 0028), not taken by each chunk from whichever worker runs it.
/// </summary>
public class StudyCalibrationTests
{
    private static StudyRegistration Uncalibrated(ResubmissionRaceTests.Seeded s) => ResubmissionRaceTests.SubmittedAgain(s) with { UmPerPx = null };

    [Fact]
    public async Task An_uncalibrated_studys_chunks_carry_the_default_it_was_registered_at()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var s = await ResubmissionRaceTests.SeedAsync(migrated.Db, 2);
        var registrations = new StudyRegistrationStore(migrated.Db);
        var results = new ResultStore(migrated.Db);
        // Seeded at 2.0 with a study.json that gives none, the study would read as calibrated by its submission, which
        // holds over one that gives none (StudyCalibration): here it came from a study.json since edited to give none.
        await using (var seed = await migrated.Db.OpenConnectionAsync())
            await seed.ExecuteAsync("""update studies set manifest = '{"um_per_px": 2.0}'""");

        // Registered by a worker whose default is 2.5 µm/px: every chunk, on any worker, measures at 2.5.
        var first = await registrations.RegisterAsync(Uncalibrated(s), s.ModelId, 2.5, false, 10, "{}", default);
        Assert.All(await results.LoadChunkImagesAsync(s.ImageIds, default), i => Assert.Equal(2.5, i.UmPerPx));
        await using var c = await migrated.Db.OpenConnectionAsync();
        Assert.Null(await c.ExecuteScalarAsync<double?>("select um_per_px from studies"));   // still shown uncalibrated

        // Submitted again through a worker whose default is 3.0: a new calibration, so its images are queued again at it,
        // and a chunk of the first registration still running stores nothing for them.
        var loadedBefore = await results.LoadChunkImagesAsync(s.ImageIds, default);
        await c.ExecuteAsync("update jobs set state = 'processing'; update images set state = 'processing'");
        var second = await registrations.RegisterAsync(Uncalibrated(s), s.ModelId, 3.0, false, 10, "{}", default);
        Assert.Equal(s.ImageIds.Order(), second.ImagesToAnalyse.Order());
        Assert.All(await results.LoadChunkImagesAsync(s.ImageIds, default), i => Assert.Equal(3.0, i.UmPerPx));
        var old = first.Chunks.Single().JobId;
        Assert.Empty((await results.WriteChunkAsync(new ChunkResult(old, s.ModelId, [], [new FailedImage(s.ImageIds[0], "Corrupt", "x")], [], "{}", loadedBefore), default))!.Patients);
        Assert.Equal(["queued", "queued"], await c.QueryAsync<string>("select state from images order by id"));
    }

    [Fact]
    public async Task A_calibration_removed_from_study_json_that_equalled_the_default_changes_nothing()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var s = await ResubmissionRaceTests.SeedAsync(migrated.Db, 2);
        var registrations = new StudyRegistrationStore(migrated.Db);
        var calibrated = Uncalibrated(s) with { UmPerPx = 2.0 };
        await registrations.RegisterAsync(calibrated, s.ModelId, 2.0, false, 10, "{}", default);
        await using var c = await migrated.Db.OpenConnectionAsync();
        await c.ExecuteAsync("update jobs set state = 'processing'; update images set state = 'processing'");

        // Now without it, through a worker whose default is the same 2.0: its chunks in flight measure at what it is.
        var again = await registrations.RegisterAsync(Uncalibrated(s), s.ModelId, 2.0, false, 10, "{}", default);
        Assert.Empty(again.ImagesToAnalyse);
        Assert.Equal(["processing", "processing"], await c.QueryAsync<string>("select state from images order by id"));
    }
}
