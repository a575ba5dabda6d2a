using NfcPipeline.Contracts;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>Images that fail for a cause that can pass (a file gone for a moment) are tried once more before they fail.</summary>
public class TransientFailureTests
{
    [Fact]
    public async Task A_file_back_before_the_retry_is_analysed_and_one_still_gone_fails_with_its_reason()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        var images = env.WriteStudy("study-t", patients: 1, imagesPerPatient: 2);
        var worker = await env.StartWorkerAsync(new Dictionary<string, string> { ["Worker__TransientRetryDelay"] = "00:00:05" });
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-t", FolderPath = "study-t" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-t", TimeSpan.FromMinutes(2)));

        // Both files away (a remount, say) while their chunk runs again; one comes back before the retry.
        var paths = images.Select(i => Path.Combine(env.Share.FullName, "study-t", i)).ToList();
        foreach (var path in paths) File.Move(path, path + ".away");
        var studyId = await env.QueryScalarAsync<long>("update studies set state = 'processing' returning id");
        var jobId = await env.QueryScalarAsync<long>("""
            insert into jobs (kind, study_id, payload)
            values ('analyze_chunk', @StudyId, jsonb_build_object('image_ids', (select jsonb_agg(id) from images), 'reanalyze', true)) returning id
            """, new { StudyId = studyId });
        await env.QueryScalarAsync<long>("update images set state = 'queued', chunk_job_id = @JobId returning 1", new { JobId = jobId });
        var ids = new List<long>();
        foreach (var image in images) ids.Add(await env.QueryScalarAsync<long>("select id from images where rel_path = @Path", new { Path = image }));
        await env.PublishAsync(new AnalyzeImages { JobId = jobId, StudyDbId = studyId, ImageIds = ids, Reanalyze = true });

        await PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(worker.Output.Contains("2 image(s) failed for a cause that can pass")),
            TimeSpan.FromMinutes(1), () => worker.Output);
        File.Move(paths[0] + ".away", paths[0]);

        Assert.Equal("completed_with_errors", await env.WaitForStudyAsync("study-t", TimeSpan.FromMinutes(2)));
        Assert.Equal("succeeded", await env.QueryScalarAsync<string>("select state from images where id = @Id", new { Id = ids[0] }));
        Assert.Equal("NotInShare", await env.QueryScalarAsync<string>("select error_code from images where id = @Id", new { Id = ids[1] }));
        Assert.Equal("the image's file does not exist in the share.", await env.QueryScalarAsync<string>("select error from images where id = @Id", new { Id = ids[1] }));
        Assert.Equal("succeeded", await env.QueryScalarAsync<string>("select state from jobs where id = @JobId", new { JobId = jobId }));
    }
}
