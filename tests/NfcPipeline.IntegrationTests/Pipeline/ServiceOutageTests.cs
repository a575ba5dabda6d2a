using System.Diagnostics;
using NfcPipeline.Contracts;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>Stops shared servers, so it runs alone, after the tests that run in parallel.</summary>
[CollectionDefinition(nameof(ServiceOutageCollection), DisableParallelization = true)]
public sealed class ServiceOutageCollection;

[Collection(nameof(ServiceOutageCollection))]
public class ServiceOutageTests
{
    [Fact]
    public async Task A_database_outage_of_20_seconds_is_retried_through_and_nothing_is_lost()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-db", patients: 2, imagesPerPatient: 12, width: 1024, height: 768);
        await env.StartWorkerAsync(OneChunkAtATime);
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-db", FolderPath = "study-db" });
        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>("select count(*) from jobs where state = 'succeeded'") > 0,
            TimeSpan.FromMinutes(1));

        Assert.True(await UnfinishedAsync(env) > 0, "the study finished before the outage");
        // Brought back whatever happens meanwhile: a server left down fails every test after this one.
        try
        {
            await ServicesAsync("down", "postgres");
            await Task.Delay(TimeSpan.FromSeconds(20));
        }
        finally { await ServicesAsync("up", "postgres"); }
        var back = await env.QueryScalarAsync<DateTime>("select now()");

        Assert.Equal("completed", await env.WaitForStudyAsync("study-db", TimeSpan.FromMinutes(4)));
        Assert.True(await ChunksFinishedAfterAsync(env, back) > 0, "no chunk was left to finish after the outage");
        Assert.Equal(24L, await env.QueryScalarAsync<long>("select count(*) from image_metrics"));
        Assert.Equal(48L, await env.QueryScalarAsync<long>("select count(*) from capillaries"));
        Assert.Equal(24L, await env.QueryScalarAsync<long>("select count(*) from images where state = 'succeeded'"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from patient_metrics"));
        Assert.Contains("Database call failed", string.Join("\n", env.Workers.Select(w => w.Output)));
    }

    [Fact]
    public async Task A_broker_restart_during_processing_loses_nothing()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-mq", patients: 2, imagesPerPatient: 12, width: 1024, height: 768);
        await env.StartWorkerAsync(OneChunkAtATime);
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-mq", FolderPath = "study-mq" });
        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>("select count(*) from jobs where state = 'succeeded'") > 0,
            TimeSpan.FromMinutes(1));

        try
        {
            await ServicesAsync("down", "rabbitmq");
            // Work in flight while the broker is away (chunks it had delivered go on; their acks are lost).
            Assert.True(await UnfinishedAsync(env) > 0, "the study finished before the outage");
        }
        finally { await ServicesAsync("up", "rabbitmq"); }

        Assert.Equal("completed", await env.WaitForStudyAsync("study-mq", TimeSpan.FromMinutes(4)));
        Assert.Equal(24L, await env.QueryScalarAsync<long>("select count(*) from image_metrics"));
        Assert.Equal(48L, await env.QueryScalarAsync<long>("select count(*) from capillaries"));
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from jobs where state <> 'succeeded'"));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from patients where state = 'completed'"));
    }

    // One image per chunk, one chunk at a time, one delivered ahead: most of the study waits in the queue, or in flight,
    // when the server goes away (four chunks of eight at once finished it while the broker was being stopped).
    private static readonly Dictionary<string, string> OneChunkAtATime = new()
    {
        ["Inference__Batching__MaxBatchSize"] = "1", ["Worker__ChunkSize"] = "1", ["Worker__PrefetchCount"] = "1",
        ["Worker__ConcurrentMessageLimit"] = "1",
    };

    // Work in progress across the outage, or the test would pass on a study finished before it.
    private static Task<long> UnfinishedAsync(PipelineEnvironment env) =>
        env.QueryScalarAsync<long>("select count(*) from images where state not in ('succeeded', 'failed')");

    private static Task<long> ChunksFinishedAfterAsync(PipelineEnvironment env, DateTime back) =>
        env.QueryScalarAsync<long>("select count(*) from jobs where kind = 'analyze_chunk' and finished_at > @Back", new { Back = back });

    private static async Task ServicesAsync(string verb, string service)
    {
        var psi = new ProcessStartInfo("bash", [Path.Combine(TestServices.RepoRoot, "ops", "services.sh"), verb, service])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestServices.RepoRoot,
        };
        using var process = Process.Start(psi)!;
        var output = process.StandardError.ReadToEndAsync();
        // `up rabbitmq` may wait twice its 90-s port timeout before it gives up; one still running then is stopped.
        try { await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(4)); }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        Assert.True(process.ExitCode == 0, $"services.sh {verb} {service} failed: {await output}");
    }
}
