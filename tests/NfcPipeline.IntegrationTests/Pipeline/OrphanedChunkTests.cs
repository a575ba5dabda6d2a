using NfcPipeline.Contracts;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>A chunk job left 'processing' under a live worker with no message anywhere (its fault lost to a long outage).</summary>
public class OrphanedChunkTests
{
    [Fact]
    public async Task A_job_left_processing_under_a_live_worker_that_holds_no_message_for_it_is_sent_back_and_completes()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-orphan", patients: 1, imagesPerPatient: 2);
        var worker = await env.StartWorkerAsync(new Dictionary<string, string>
        {
            ["Worker__OrphanedChunkAfter"] = "00:00:02", ["Worker__RepublishAfter"] = "00:00:03",
        });
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-orphan", FolderPath = "study-orphan" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-orphan", TimeSpan.FromMinutes(2)));
        // Held by its consumer while it ran: never taken for an orphan.
        Assert.Equal(0L, await env.QueryScalarAsync<long>("select count(*) from jobs where attempts <> 1 or last_error is not null"));

        // As a fault unrecorded through a database outage leaves it: processing under this worker, its images queued.
        await env.QueryScalarAsync<int>($"""
            update jobs set state = 'processing', finished_at = null, updated_at = now() - interval '1 minute',
                worker_id = (select id from workers where pid = {worker.Pid}) where kind = 'analyze_chunk';
            update images set state = 'queued';
            update patients set state = 'processing', completed_at = null;
            update studies set state = 'processing', completed_at = null;
            select 1
            """);

        Assert.Equal("completed", await env.WaitForStudyAsync("study-orphan", TimeSpan.FromMinutes(2)));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from images where state = 'succeeded'"));
        Assert.Equal(("succeeded", 2), await env.QueryScalarAsync<string>("select state from jobs where kind = 'analyze_chunk'") is var state
            ? (state, await env.QueryScalarAsync<int>("select attempts from jobs where kind = 'analyze_chunk'")) : default);
        Assert.Contains("chunk job(s) left processing under this worker without their message", worker.Output);
    }

    [Fact]
    public void A_job_delivered_twice_stays_in_flight_until_both_deliveries_return()
    {
        var inFlight = new NfcPipeline.Worker.Analysis.ChunksInFlight();
        var first = inFlight.Enter(7);
        var second = inFlight.Enter(7);
        using (inFlight.Enter(8)) Assert.Equal([7L, 8L], inFlight.Snapshot().Order());
        first.Dispose();
        first.Dispose();   // once only
        Assert.Equal([7L], inFlight.Snapshot());
        second.Dispose();
        Assert.Empty(inFlight.Snapshot());
    }
}
