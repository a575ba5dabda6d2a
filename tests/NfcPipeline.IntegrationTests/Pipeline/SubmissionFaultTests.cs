namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>A watched folder whose submission failed after its retries, for a reason other than a refusal.</summary>
public class SubmissionFaultTests
{
    [Fact]
    public async Task A_folder_whose_registration_failed_after_its_retries_is_submitted_again_unchanged()
    {
        // Its fingerprint was recorded at the publish; with the message in submit-study_error and no refusal noted, the
        // unchanged folder was never submitted again.
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-f", patients: 1, imagesPerPatient: 2);
        await env.QueryScalarAsync<int>("""
            create function refuse_study() returns trigger language plpgsql as $$ begin raise exception 'studies are read-only for this test'; end $$;
            create trigger refuse_study before insert on studies for each row execute function refuse_study();
            select 1
            """);
        var worker = await env.StartWorkerAsync(new Dictionary<string, string>
        {
            ["Share__Root"] = env.Share.FullName, ["Share__PollInterval"] = "00:00:01", ["Share__SettleTime"] = "00:00:01",
            ["Share__RefusedRetryInterval"] = "00:00:03", ["Worker__MessageRetryLimit"] = "0",
        });

        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>("""
            select count(*) from share_folder_notes where folder = 'study-f' and state = 'registration_refused'
              and reason like 'Its registration failed after its retries (%read-only for this test%'
            """) == 1 && await env.Vhost.QueueDepthAsync("submit-study_error") >= 1, TimeSpan.FromMinutes(1), () => worker.Output);
        Assert.Contains("the share watcher submits its folder again later", worker.Output);

        await env.QueryScalarAsync<int>("drop trigger refuse_study on studies; select 1");
        Assert.Equal("completed", await env.WaitForStudyAsync("study-f", TimeSpan.FromMinutes(2)));
        // Registered: the note is gone.
        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>(
            "select count(*) from share_folder_notes where folder = 'study-f'") == 0, TimeSpan.FromSeconds(30), () => worker.Output);
    }
}
