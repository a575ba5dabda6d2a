using System.Collections.Concurrent;
using Dapper;
using MassTransit;
using NfcPipeline.Contracts;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Pipeline;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>
/// Completion events stored with the transition they announce (migration 0021), so one whose publish failed after the
/// commit is published by an outbox pass: at least once. Before, it was lost, since the retry found the transition made.
/// </summary>
public class CompletionEventOutboxTests
{
    [Fact]
    public async Task A_study_completion_stores_its_event_claimed_by_its_caller_until_published_or_released()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var db = migrated.Db;
        var s = await ResubmissionRaceTests.SeedAsync(db, 2);
        await using (var c = await db.OpenConnectionAsync())
            await c.ExecuteAsync("update images set state = 'succeeded'; update patients set state = 'completed'");
        var store = new PatientResultsStore(db);
        var events = new CompletionEventStore(db);
        var hour = TimeSpan.FromHours(1);

        var outcome = await store.CompleteStudyIfDoneAsync(s.StudyId, default);
        var stored = outcome?.Event;
        Assert.NotNull(stored);
        var message = Assert.IsType<StudyCompleted>(stored.Message);
        Assert.Equal(("race", s.StudyId, "completed", 2, 0), (message.StudyId, message.StudyDbId, message.State, message.SucceededImages, message.FailedImages));
        Assert.Null(await store.CompleteStudyIfDoneAsync(s.StudyId, default));   // a retry: no second transition, no second event
        Assert.Empty(await events.ClaimUnpublishedAsync(TimeSpan.Zero, hour, 10, default));   // its caller holds it

        // The caller's publish failed: released, an outbox pass takes it, with the event as stored (time included).
        await events.ReleaseAsync([stored], default);
        var claimed = Assert.Single(await events.ClaimUnpublishedAsync(TimeSpan.Zero, hour, 10, default));
        Assert.Equal(message, claimed.Message);
        await events.MarkPublishedAsync([stored], default);   // the first claim is gone: no stamp
        await Task.Delay(50);
        Assert.Single(await events.ClaimUnpublishedAsync(TimeSpan.Zero, TimeSpan.FromMilliseconds(10), 10, default));   // its claim expired

        var last = Assert.Single(await events.ClaimUnpublishedAsync(TimeSpan.Zero, TimeSpan.Zero, 10, default));
        await events.MarkPublishedAsync([last], default);
        Assert.Empty(await events.ClaimUnpublishedAsync(TimeSpan.Zero, TimeSpan.Zero, 10, default));

        // Published events are trimmed once older than what is kept; unpublished ones never.
        Assert.Equal(0, await events.TrimPublishedAsync(TimeSpan.FromDays(30), default));
        await using (var c = await db.OpenConnectionAsync())
            await c.ExecuteAsync("""
                update completion_events set published_at = now() - interval '31 days';
                insert into completion_events (kind, study_id, payload, created_at) values ('study_completed', @StudyId, '{}', now() - interval '40 days')
                """, new { s.StudyId });
        Assert.Equal(1, await events.TrimPublishedAsync(TimeSpan.FromDays(30), default));
        await using (var c = await db.OpenConnectionAsync())
            Assert.Equal(1L, await c.ExecuteScalarAsync<long>("select count(*) from completion_events where published_at is null"));
    }

    [Fact]
    public async Task A_patient_event_the_broker_refuses_does_not_hold_up_the_other_patients_or_the_study()
    {
        // A failed publish threw out of the completion: the chunk's other patients and its study waited for a retry of
        // the message, one patient per retry, or for the stranded-completion sweep.
        await using var env = await PipelineEnvironment.CreateAsync();
        await env.Vhost.RefusePublishesAsync("NfcPipeline.Contracts:PatientCompleted", "refuses-patient-events");
        env.WriteStudy("study-refused", patients: 2, imagesPerPatient: 2);
        await env.StartWorkerAsync(new Dictionary<string, string> { ["Worker__ChunkSize"] = "4" });   // one chunk, both patients
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-refused", FolderPath = "study-refused" });

        Assert.Equal("completed", await env.WaitForStudyAsync("study-refused", TimeSpan.FromMinutes(1)));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from patients where state = 'completed'"));
        Assert.Equal(1, await env.QueryScalarAsync<int>("select max(attempts) from jobs where kind = 'analyze_chunk'"));   // no retry
        // All three stored, none published: after the first refusal the rest wait for the outbox (one publish timeout at most, not
        // one per event), which publishes them in order once the broker takes them.
        // (The registration's StudySubmitted went out before: its stamp is not waited for here.)
        Assert.Equal(3L, await env.QueryScalarAsync<long>("select count(*) from completion_events where published_at is null and kind <> 'study_submitted'"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from completion_events where kind = 'patient_completed'"));

        await env.Vhost.DeleteQueueAsync("refuses-patient-events");
        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>("select count(*) from completion_events where published_at is null") == 0,
            TimeSpan.FromMinutes(1), () => env.Workers[0].Output);
        Assert.True(env.Workers[0].Output.Contains("are left to the outbox"), env.Workers[0].Output);
    }

    [Fact]
    public async Task A_row_this_version_cannot_read_keeps_its_claim_and_leaves_the_pass_to_the_others()
    {
        // It threw out of the outbox pass, which stopped the worker's host, and every worker's in turn.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var s = await ResubmissionRaceTests.SeedAsync(migrated.Db, 1);
        await using var c = await migrated.Db.OpenConnectionAsync();
        await c.ExecuteAsync("""
            insert into completion_events (kind, study_id, payload, created_at) values
                ('study_completed', @StudyId, '[1, 2]', now() - interval '2 minutes'),
                ('study_completed', @StudyId, '{"studyId": "race", "studyDbId": 1, "state": "completed"}', now() - interval '1 minute')
            """, new { s.StudyId });

        var claimed = Assert.Single(await new CompletionEventStore(migrated.Db).ClaimUnpublishedAsync(TimeSpan.Zero, TimeSpan.FromHours(1), 10, default));
        Assert.Equal("race", Assert.IsType<StudyCompleted>(claimed.Message).StudyId);
        Assert.Equal(2L, await c.ExecuteScalarAsync<long>("select count(*) from completion_events where publish_claimed_at is not null and published_at is null"));

        await c.ExecuteAsync("""
            insert into jobs (kind, study_id, payload, state, enqueued_at) values
                ('analyze_chunk', @StudyId, '"not a chunk"', 'enqueued', now() - interval '2 hours'),
                ('analyze_chunk', @StudyId, '{"image_ids": [1], "reanalyze": false}', 'enqueued', now() - interval '1 hour')
            """, new { s.StudyId });
        var chunk = Assert.Single(await new JobStore(migrated.Db).ClaimUnpublishedAsync(TimeSpan.Zero, TimeSpan.FromHours(1), 10, default));
        Assert.Equal([1L], chunk.ImageIds);
    }

    [Fact]
    public async Task An_event_left_unpublished_is_published_by_a_workers_outbox_pass_and_every_event_is_stamped()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-o", patients: 2, imagesPerPatient: 2);
        var patients = new ConcurrentBag<PatientCompleted>();
        var studies = new ConcurrentBag<StudyCompleted>();
        var submitted = new ConcurrentBag<StudySubmitted>();
        var listener = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(env.Vhost.AmqpUri);
            cfg.ReceiveEndpoint("events-" + Guid.NewGuid().ToString("N")[..8], e =>
            {
                e.Handler<PatientCompleted>(c => { patients.Add(c.Message); return Task.CompletedTask; });
                e.Handler<StudyCompleted>(c => { studies.Add(c.Message); return Task.CompletedTask; });
                e.Handler<StudySubmitted>(c => { submitted.Add(c.Message); return Task.CompletedTask; });
            });
        });
        await listener.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        try
        {
            // A claim outlives its publish by 2 x RepublishAfter: at 2 s a loaded machine's registration took longer than that
            // to announce its study, the outbox published the StudySubmitted too, and it came twice (at least once, by design).
            await env.StartWorkerAsync(new Dictionary<string, string> { ["Worker__RepublishAfter"] = "00:00:05" });
            await env.SubmitAsync(new SubmitStudy { StudyId = "study-o", FolderPath = "study-o" });
            Assert.Equal("completed", await env.WaitForStudyAsync("study-o", TimeSpan.FromMinutes(2)));
            await PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(studies.Count == 1 && patients.Count == 2 && submitted.Count == 1),
                TimeSpan.FromSeconds(30), () => $"{patients.Count} patient, {studies.Count} study and {submitted.Count} submission events");
            // The submission announced from the outbox's table too, with the registration's counts.
            var announced = Assert.Single(submitted);
            Assert.Equal(("study-o", 2, 4), (announced.StudyId, announced.PatientCount, announced.ImageCount));
            // Each stamped once the broker confirmed it (the stamp may follow the delivery by a moment).
            await PipelineEnvironment.WaitUntilAsync(async () =>
                    await env.QueryScalarAsync<long>("select count(*) from completion_events where published_at is not null") == 4,
                TimeSpan.FromSeconds(30), () => "the events were not all stamped published");
            Assert.Equal("1|1", await env.QueryScalarAsync<string>(
                "select count(*) filter (where kind = 'study_submitted') || '|' || count(*) filter (where kind = 'study_completed') from completion_events"));

            // A StudyCompleted and a StudySubmitted whose publish failed after their commit (released by the worker that made them).
            var studyId = await env.QueryScalarAsync<long>("select id from studies");
            var web = new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web);
            var lost = new StudyCompleted("study-o", studyId, "completed", 4, 0, new DateTimeOffset(2026, 12, 4, 8, 0, 0, TimeSpan.Zero));
            var lostSubmission = new StudySubmitted("study-o", studyId, 2, 4, new DateTimeOffset(2026, 12, 4, 7, 0, 0, TimeSpan.Zero));
            await env.QueryScalarAsync<long>("""
                insert into completion_events (kind, study_id, payload) values ('study_completed', @studyId, @payload::jsonb),
                    ('study_submitted', @studyId, @submission::jsonb);
                select 0::bigint
                """, new { studyId, payload = System.Text.Json.JsonSerializer.Serialize(lost, web), submission = System.Text.Json.JsonSerializer.Serialize(lostSubmission, web) });
            await PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(studies.Count == 2 && submitted.Count == 2), TimeSpan.FromSeconds(60),
                () => $"{studies.Count} study and {submitted.Count} submission events; worker:\n{env.Workers[0].Output}");
            Assert.Contains(lost, studies);
            Assert.Contains(lostSubmission, submitted);
            await PipelineEnvironment.WaitUntilAsync(async () =>
                    await env.QueryScalarAsync<long>("select count(*) from completion_events where published_at is null") == 0,
                TimeSpan.FromSeconds(30), () => "the republished event was not stamped");
        }
        finally { await listener.StopAsync(); }
    }
}
