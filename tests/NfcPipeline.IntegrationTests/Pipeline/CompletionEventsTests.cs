using System.Collections.Concurrent;
using MassTransit;
using NfcPipeline.Contracts;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>The completion events a subscriber receives: one per patient and one per study, even with workers racing.</summary>
public class CompletionEventsTests
{
    [Fact]
    public async Task Two_workers_announce_each_patient_and_the_study_exactly_once()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-e", patients: 3, imagesPerPatient: 4);
        var patients = new ConcurrentBag<PatientCompleted>();
        var studies = new ConcurrentBag<StudyCompleted>();
        var queue = "events-" + Guid.NewGuid().ToString("N")[..8];
        var listener = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(env.Vhost.AmqpUri);
            cfg.ReceiveEndpoint(queue, e =>
            {
                e.Handler<PatientCompleted>(c => { patients.Add(c.Message); return Task.CompletedTask; });
                e.Handler<StudyCompleted>(c => { studies.Add(c.Message); return Task.CompletedTask; });
            });
        });
        await listener.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        try
        {
            await env.StartWorkerAsync();
            await env.StartWorkerAsync();
            await env.SubmitAsync(new SubmitStudy { StudyId = "study-e", FolderPath = "study-e" });
            Assert.Equal("completed", await env.WaitForStudyAsync("study-e", TimeSpan.FromMinutes(3)));

            // Both workers stopped: nothing more can be published; then the subscriber's queue drains.
            foreach (var worker in env.Workers) Assert.Equal(0, await worker.StopAsync(TimeSpan.FromSeconds(60)));
            await PipelineEnvironment.WaitUntilAsync(async () => studies.Count >= 1 && patients.Count >= 3 && await env.Vhost.QueueDepthAsync(queue) == 0,
                TimeSpan.FromSeconds(60), () => $"{patients.Count} patient and {studies.Count} study events");

            var study = Assert.Single(studies);
            Assert.Equal(("study-e", "completed", 12, 0), (study.StudyId, study.State, study.SucceededImages, study.FailedImages));
            Assert.Equal(3, patients.Count);
            Assert.Equal(3, patients.Select(p => p.PatientDbId).Distinct().Count());
            Assert.All(patients, p => Assert.Equal(("study-e", 0), (p.StudyId, p.FailedImages)));
            var stored = await env.QueryScalarAsync<long[]>("select array_agg(id order by id) from patients");
            Assert.Equal(stored, patients.Select(p => p.PatientDbId).Order());
        }
        finally { await listener.StopAsync(); }
    }
}
