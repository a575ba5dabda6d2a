using NfcPipeline.Contracts;
using NfcPipeline.Storage.Reporting;
using Npgsql;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>A field excluded at review, through a real worker: the patient aggregated again without it, and with it again.</summary>
public class FieldReviewPipelineTests
{
    private const string Metrics = "select gradable_fields || '/' || ungradable_fields from patient_metrics";

    [Fact]
    public async Task A_worker_aggregates_a_patient_again_without_an_excluded_field_and_a_changed_file_drops_the_exclusion()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-review", patients: 1, imagesPerPatient: 3);
        await env.StartWorkerAsync();
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-review", FolderPath = "study-review" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-review", TimeSpan.FromMinutes(2)));
        Assert.Equal("3/0", await env.QueryScalarAsync<string>(Metrics));

        // The workers now run another model (a model change after the study): the patient is aggregated again all the same,
        // from the stored results of the model it has results of, under the rules they were computed with.
        Assert.Equal(0, await env.Workers[0].StopAsync(TimeSpan.FromSeconds(60)));
        var other = await env.StartWorkerAsync(new Dictionary<string, string>
        {
            ["Inference__ModelPath"] = Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", "dense_batch_one_only.onnx"),
        });

        await using var dataSource = NpgsqlDataSource.Create(env.Db.ConnectionString);
        var review = new FieldReview(dataSource);
        var imageId = Assert.Single(await review.FindAsync("study-review", "P001/L3/field1.png"));
        var excluded = await review.ExcludeAsync(imageId, "air bubble over the row", "test", default);
        Assert.Equal(FieldReviewOutcome.Changed, excluded.Outcome);
        await env.PublishAsync(new ReaggregatePatient(excluded.PatientId, "test"));
        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<string>(Metrics) == "2/1"
            && other.Output.Contains("aggregated again for model"), TimeSpan.FromMinutes(1), () => other.Output);
        // The patient stays completed, its image keeps its own result, and nothing is announced again.
        Assert.Equal("completed", await env.QueryScalarAsync<string>("select state from patients"));
        Assert.Equal(3L, await env.QueryScalarAsync<long>("select count(*) from v_image_results where gradable"));
        Assert.Equal(1L, await env.QueryScalarAsync<long>("select count(*) from completion_events where kind = 'patient_completed'"));
        Assert.Equal(1L, await env.QueryScalarAsync<long>("select count(*) from patient_metrics"));   // no result made up for the other model

        Assert.Equal(FieldReviewOutcome.Changed, (await review.IncludeAsync(imageId, "test", default)).Outcome);
        await env.PublishAsync(new ReaggregatePatient(excluded.PatientId, "test"));
        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<string>(Metrics) == "3/0", TimeSpan.FromMinutes(1));

        // An exclusion is of the content reviewed: a file replaced and submitted again comes back without it.
        await review.ExcludeAsync(imageId, "air bubble over the row", "test", default);
        var path = Path.Combine(env.Share.FullName, "study-review", "P001", "L3", "field1.png");
        File.WriteAllBytes(path, NfcPipeline.Imaging.PngEncoder.Encode(ColourStudy.Image(256, 192, seed: 4242)));
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-review", FolderPath = "study-review" });
        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>(
            "select count(*) from images where qc_exclusion is null and qc_excluded_by is null and qc_excluded_at is null") == 3, TimeSpan.FromMinutes(1));
        Assert.Equal("completed", await env.WaitForStudyAsync("study-review", TimeSpan.FromMinutes(2)));
    }

    [Fact]
    public async Task Aggregating_again_a_patient_whose_completion_was_lost_completes_it_and_its_study_with_their_events()
    {
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("study-lost", patients: 1, imagesPerPatient: 2);
        var worker = await env.StartWorkerAsync();
        await env.SubmitAsync(new SubmitStudy { StudyId = "study-lost", FolderPath = "study-lost" });
        Assert.Equal("completed", await env.WaitForStudyAsync("study-lost", TimeSpan.FromMinutes(2)));
        // As if the last chunk's completion had failed after its commit: every image done, patient and study processing.
        // And a result of an older model (a lower id, so looked at first before): the study's own model decides the
        // patient's completion, not one whose images this study no longer has results of.
        await env.QueryScalarAsync<int>("update patients set state = 'processing', completed_at = null; " +
            "update studies set state = 'processing', completed_at = null; " +
            "insert into models (id, sha256, name, version, contract) overriding system value values (0, decode(repeat('00', 32), 'hex'), 'older', '0', 'dense/v1'); " +
            "insert into patient_metrics select (jsonb_populate_record(null::patient_metrics, to_jsonb(pm) || '{\"model_id\": 0}')).* from patient_metrics pm; select 1");

        await env.PublishAsync(new ReaggregatePatient(await env.QueryScalarAsync<long>("select id from patients"), "test"));

        Assert.Equal("completed", await env.WaitForStudyAsync("study-lost", TimeSpan.FromMinutes(1)));
        Assert.Equal("completed", await env.QueryScalarAsync<string>("select state from patients"));   // the older model's: with errors
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from patient_metrics"));   // both results aggregated again
        Assert.Equal("2|2", await env.QueryScalarAsync<string>(
            "select count(*) filter (where kind = 'patient_completed') || '|' || count(*) filter (where kind = 'study_completed') from completion_events"));
        await PipelineEnvironment.WaitUntilAsync(() => Task.FromResult(worker.Output.Contains("aggregated again for model")), TimeSpan.FromSeconds(30));
    }
}
