namespace NfcPipeline.Dashboard.Tests;

/// <summary>The workers page warns when live workers run different models on one queue.</summary>
public class WorkersPageTests
{
    [Fact]
    public async Task Live_workers_with_two_models_are_warned_about_and_one_model_is_not()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);
        using var client = host.Client();
        Assert.DoesNotContain("id=\"mixed-models\"", await client.GetStringAsync("/workers"));

        // A second live worker on another model; a stopped one on a third model does not count.
        await data.Database.ScalarAsync<int>("""
            insert into workers (id, host, pid, model_sha256) values ('host:2:0', 'host', 2, '\x01'::bytea);
            insert into workers (id, host, pid, model_sha256, state) values ('host:3:0', 'host', 3, '\x02'::bytea, 'stopped');
            select 1
            """);
        var page = await client.GetStringAsync("/workers");
        Assert.Contains("id=\"mixed-models\">The live workers run 2 different models.", page);
    }
}
