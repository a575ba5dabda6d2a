namespace NfcPipeline.Dashboard.Tests;

/// <summary>The share's page (/recurring) shows the study folders that are not being analysed, and why.</summary>
public class SharePageTests
{
    [Fact]
    public async Task Folders_not_analysed_are_listed_with_their_reason_refusals_first_and_encoded()
    {
        await using var data = await TestData.CreateAsync();
        await data.Database.ScalarAsync<int>("""
            insert into share_folder_notes (root, folder, state, reason) values
                ('/share', 'copying', 'no_marker', 'no study.json or READY marker'),
                ('/share', 'batch2', 'registration_refused', 'Study id ''S1'' is already registered from folder ''batch1''.'),
                ('/share', '<b>odd</b>', 'refused', 'study.json is not valid JSON');
            select 1
            """);
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);
        using var client = host.Client();

        var page = await client.GetStringAsync("/recurring");
        var table = page[page.IndexOf("id=\"folder-notes\"", StringComparison.Ordinal)..];
        Assert.True(table.IndexOf("refused when registered", StringComparison.Ordinal) < table.IndexOf("waiting for READY or study.json", StringComparison.Ordinal));
        Assert.Contains("already registered from folder &#x27;batch1&#x27;", table);
        Assert.Contains("&lt;b&gt;odd&lt;/b&gt;", table);
        Assert.DoesNotContain("<b>odd</b>", page);
    }
}
