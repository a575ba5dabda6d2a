namespace NfcPipeline.Dashboard.Tests;

/// <summary>The share's page (/share) shows the study folders that are not being analysed, and why.</summary>
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

        var page = await client.GetStringAsync("/share");
        var table = page[page.IndexOf("id=\"folder-notes\"", StringComparison.Ordinal)..];
        Assert.True(table.IndexOf("refused when registered", StringComparison.Ordinal) < table.IndexOf("waiting for READY or study.json", StringComparison.Ordinal));
        Assert.Contains("already registered from folder &#x27;batch1&#x27;", table);
        Assert.Contains("&lt;b&gt;odd&lt;/b&gt;", table);
        Assert.DoesNotContain("<b>odd</b>", page);
    }

    [Fact]
    public async Task A_study_whose_submission_was_refused_answers_404_with_the_refusal_unless_asked_since_later()
    {
        await using var data = await TestData.CreateAsync();
        await data.Database.ScalarAsync<int>("""
            insert into share_folder_notes (root, folder, state, reason, study_id)
            values ('/share', 'batch3', 'registration_refused', 'The study folder holds no images.', 'S-NEW');
            select 1
            """);
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);
        using var client = host.Client();

        var refused = await client.GetAsync("/api/studies/S-NEW");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, refused.StatusCode);
        using var problem = System.Text.Json.JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
        Assert.Equal("The study folder holds no images.", problem.RootElement.GetProperty("refusal").GetString());
        Assert.Contains("a worker refused its submission", problem.RootElement.GetProperty("detail").GetString());
        var refusedAt = problem.RootElement.GetProperty("refusedAt").GetDateTimeOffset();
        Assert.InRange(refusedAt, DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddMinutes(10));
        // A resubmission's client passes its POST's time: the earlier refusal is not its answer.
        var since = Uri.EscapeDataString(refusedAt.AddSeconds(1).ToString("O"));
        var resubmitted = await client.GetAsync($"/api/studies/S-NEW?since={since}");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, resubmitted.StatusCode);
        Assert.DoesNotContain("refused", await resubmitted.Content.ReadAsStringAsync());
        var before = Uri.EscapeDataString(refusedAt.AddSeconds(-1).ToString("O"));
        Assert.Contains("refused", await (await client.GetAsync($"/api/studies/S-NEW?since={before}")).Content.ReadAsStringAsync());
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await client.GetAsync("/api/studies/S-NEW?since=yesterday")).StatusCode);
        // One never submitted is simply not there yet.
        var unknown = await client.GetAsync("/api/studies/S-OTHER");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.DoesNotContain("refused", await unknown.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_old_address_leads_to_the_share_page()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);
        using var client = host.Client();

        var moved = await client.GetAsync("/recurring");
        Assert.Equal(System.Net.HttpStatusCode.MovedPermanently, moved.StatusCode);
        Assert.Equal("/share", moved.Headers.Location?.OriginalString);

        var page = await client.GetStringAsync("/share");
        Assert.Contains("<h1>Share</h1>", page);
        Assert.Contains("<a href=\"/share\">Share</a>", page);
        Assert.Contains("<footer>Research use only:", page);   // on every page
    }
}
