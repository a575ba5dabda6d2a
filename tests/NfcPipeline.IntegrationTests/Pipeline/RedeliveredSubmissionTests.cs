using Dapper;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Pipeline;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>
/// A SubmitStudy delivered twice (at least once: its worker died after the commit, or failed past it and the message was
/// retried), against the real database: the second delivery of one message registers nothing again.
/// </summary>
public class RedeliveredSubmissionTests
{
    [Fact]
    public async Task A_redelivered_reanalysis_queues_nothing_again_and_a_new_submission_of_it_does()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await ResubmissionRaceTests.SeedAsync(db, 3);
        var registrations = new StudyRegistrationStore(db);
        var message = Guid.NewGuid();

        var first = await registrations.RegisterAsync(ResubmissionRaceTests.SubmittedAgain(s), s.ModelId, 2.0, true, 2, "{}", default, message);
        Assert.Equal(3, first.ImagesToAnalyse.Count);
        Assert.False(first.Redelivered);

        var again = await registrations.RegisterAsync(ResubmissionRaceTests.SubmittedAgain(s), s.ModelId, 2.0, true, 2, "{}", default, message);
        Assert.True(again.Redelivered);
        Assert.Empty(again.ImagesToAnalyse);
        Assert.Empty(again.Chunks);
        Assert.Equal((s.StudyId, 1, 3), (again.StudyId, again.PatientCount, again.ImageCount));
        // Looked up before the files are read: by message id and study id, so a sender reusing a message id for
        // another study has that study registered, not told of this one.
        var externalId = ResubmissionRaceTests.SubmittedAgain(s).ExternalId;
        Assert.Equal(s.StudyId, (await registrations.EarlierRegistrationAsync(message, externalId, default))?.StudyId);
        Assert.Null(await registrations.EarlierRegistrationAsync(message, externalId + "-other", default));
        await using var c = await db.OpenConnectionAsync();
        // Failing first: each delivery of the reanalysis queued every image in new chunks again.
        Assert.Equal(2L, await c.ExecuteScalarAsync<long>("select count(*) from jobs where kind = 'analyze_chunk'"));

        var resubmitted = await registrations.RegisterAsync(ResubmissionRaceTests.SubmittedAgain(s), s.ModelId, 2.0, true, 2, "{}", default, Guid.NewGuid());
        Assert.False(resubmitted.Redelivered);
        Assert.Equal(3, resubmitted.ImagesToAnalyse.Count);
        // The first message delivered once more, after that later submission: still a redelivery.
        Assert.True((await registrations.RegisterAsync(ResubmissionRaceTests.SubmittedAgain(s), s.ModelId, 2.0, true, 2, "{}", default, message)).Redelivered);
        // Without a message id (a caller outside the broker) every call registers.
        Assert.Equal(3, (await registrations.RegisterAsync(ResubmissionRaceTests.SubmittedAgain(s), s.ModelId, 2.0, true, 2, "{}", default)).ImagesToAnalyse.Count);
    }

    [Fact]
    public async Task A_worker_given_one_reanalysis_message_twice_analyses_the_study_once()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-redelivered", patients: 1, imagesPerPatient: 2);
        var worker = await env.StartWorkerAsync();
        var reanalysis = new NfcPipeline.Contracts.SubmitStudy { StudyId = "study-redelivered", FolderPath = "study-redelivered", Reanalyze = true };
        var messageId = Guid.NewGuid();

        await env.PublishAsync(reanalysis, messageId);
        Assert.Equal("completed", await env.WaitForStudyAsync("study-redelivered", TimeSpan.FromMinutes(2)));
        await env.PublishAsync(reanalysis, messageId);
        await PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(worker.Output.Contains("this submission was registered before")),
            TimeSpan.FromMinutes(1), () => worker.Output);

        Assert.Equal(1L, await env.QueryScalarAsync<long>("select count(*) from jobs where kind = 'analyze_chunk'"));
        Assert.Equal("completed", await env.QueryScalarAsync<string>("select state from studies"));

        // Delivered once more, after the workers changed model: nothing registered, and no patient result made up for
        // the new model from fields it never analysed (each would count as failed).
        Assert.Equal(0, await worker.StopAsync(TimeSpan.FromSeconds(60)));
        var other = await env.StartWorkerAsync(new Dictionary<string, string>
        {
            ["Inference__ModelPath"] = Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", "dense_batch_one_only.onnx"),
        });
        await env.PublishAsync(reanalysis, messageId);
        await PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(other.Output.Contains("its completion is left to that model's workers")),
            TimeSpan.FromMinutes(1), () => other.Output);
        Assert.Equal(1L, await env.QueryScalarAsync<long>("select count(*) from patient_metrics"));
        Assert.Equal(1L, await env.QueryScalarAsync<long>("select count(*) from jobs where kind = 'analyze_chunk'"));
    }

    [Fact]
    public async Task An_id_differing_from_a_registered_one_only_in_unicode_form_is_refused()
    {
        // "Zürich" from a Windows copy (composed) and again from a Mac (decomposed): two studies whose ids look alike.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await ResubmissionRaceTests.SeedAsync(db, 1);
        var registrations = new StudyRegistrationStore(db);
        var composed = ResubmissionRaceTests.SubmittedAgain(s) with { ExternalId = "Z\u00fcrich-01", SourcePath = "zurich-win" };
        await registrations.RegisterAsync(composed, s.ModelId, 2.0, false, 2, "{}", default);

        var decomposed = composed with { ExternalId = "Zu\u0308rich-01", SourcePath = "zurich-mac" };
        var error = await Assert.ThrowsAsync<StudyConflictException>(() => registrations.RegisterAsync(decomposed, s.ModelId, 2.0, false, 2, "{}", default));
        Assert.Contains("only in its Unicode form", error.Message);
        // The same spelling registers again as ever.
        Assert.False((await registrations.RegisterAsync(composed, s.ModelId, 2.0, false, 2, "{}", default)).Redelivered);
        await using var c = await db.OpenConnectionAsync();
        Assert.Equal(2L, await c.ExecuteScalarAsync<long>("select count(*) from studies"));

        // Two look-alikes registered at once hold different study locks: each found the other not yet there, and both
        // registered. The later waits on the id's form, then finds the first.
        await using (var first = await c.BeginTransactionAsync())
        {
            await c.ExecuteAsync("select pg_advisory_xact_lock(hashtextextended('nfc.study-form:' || @Form, 0))", new { Form = "Zu\u0308rich-02" }, first);
            var racing = registrations.RegisterAsync(decomposed with { ExternalId = "Zu\u0308rich-02", SourcePath = "zurich-mac-2" },
                s.ModelId, 2.0, false, 2, "{}", default);
            await LockWaiters.WaitForAdvisoryWaiterAsync(db, racing, "the look-alike's registration");
            await c.ExecuteAsync("""
                insert into studies (external_id, source_path, um_per_px, state, model_id) values (@Id, 'zurich-win-2', 2.0, 'processing', @ModelId)
                """, new { Id = "Z\u00fcrich-02", s.ModelId }, first);
            await first.CommitAsync();
            Assert.Contains("only in its Unicode form", (await Assert.ThrowsAsync<StudyConflictException>(() => racing)).Message);
        }
    }
}
