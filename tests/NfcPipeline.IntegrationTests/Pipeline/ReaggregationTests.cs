using NfcPipeline.Contracts;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>ReaggregatePatient against a running worker.</summary>
public class ReaggregationTests
{
    [Fact]
    public async Task A_patient_left_processing_is_completed_under_its_studys_model_not_a_result_kept_from_another()
    {
        // A study analysed again under a new model keeps the old model's patient results; with the new model's completion
        // lost, a review's recompute completed the patient on the old model's result, and nothing made the new one.
        await using var env = await PipelineEnvironment.CreateAsync();
        env.WriteStudy("s", patients: 1, imagesPerPatient: 2);
        await env.StartWorkerAsync();
        await env.SubmitAsync(new SubmitStudy { StudyId = "S", FolderPath = "s" });
        Assert.Equal("completed", await env.WaitForStudyAsync("S", TimeSpan.FromMinutes(2)));
        var patient = await env.QueryScalarAsync<long>("select p.id from patients p join studies s on s.id = p.study_id where s.external_id = 'S'");
        var model = await env.QueryScalarAsync<long>("select model_id from studies where external_id = 'S'");
        await env.QueryScalarAsync<int>("""
            create temp table kept as select * from patient_metrics where patient_id = @patient;
            with earlier as (insert into models (sha256, name, contract) values (decode(repeat('ab', 32), 'hex'), 'earlier', 'dense/v1') returning id)
            update kept set model_id = (select id from earlier);
            insert into patient_metrics select * from kept;
            delete from patient_metrics where patient_id = @patient and model_id = @model;
            update patients set state = 'processing', completed_at = null where id = @patient;
            select 1;
            """, new { patient, model });

        await env.PublishAsync(new ReaggregatePatient(patient, null));

        await PipelineEnvironment.WaitUntilAsync(async () => await env.QueryScalarAsync<long>(
            "select count(*) from patient_metrics where patient_id = @patient and model_id = @model", new { patient, model }) == 1, TimeSpan.FromSeconds(60));
        Assert.Equal("completed", await env.QueryScalarAsync<string>("select state from patients where id = @patient", new { patient }));
        Assert.Equal(2L, await env.QueryScalarAsync<long>("select count(*) from patient_metrics where patient_id = @patient", new { patient }));
    }
}
