namespace NfcPipeline.Dashboard.Tests;

/// <summary>A study's page lists its images in pages and by state, so a large study's failures are not cut off.</summary>
public class StudyPageTests
{
    [Fact]
    public async Task Images_are_paged_and_filtered_by_state()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString,
            new Dictionary<string, string?> { ["Dashboard:StudyImagesPageSize"] = "2" });
        using var client = host.Client();

        var first = await client.GetStringAsync($"/studies/{data.StudyId}");
        Assert.Contains("Images (1–2 of 3)", first);
        Assert.Contains("P01/L2/f1.png", first);
        Assert.Contains("P01/R3/f1.png", first);
        Assert.DoesNotContain("xss/L2/f1.png", first);
        Assert.Contains($"href=\"/studies/{data.StudyId}?images_state=&images_from=2\">Next →", first);

        var second = await client.GetStringAsync($"/studies/{data.StudyId}?images_from=2");
        Assert.Contains("Images (3–3 of 3)", second);
        Assert.Contains("xss/L2/f1.png", second);
        Assert.DoesNotContain("P01/L2/f1.png", second);
        Assert.Contains("← Previous", second);
        Assert.DoesNotContain("Next →", second);

        var failed = await client.GetStringAsync($"/studies/{data.StudyId}?images_state=failed");
        Assert.Contains("Images (1–1 of 1)", failed);
        Assert.Contains("the file is truncated", failed);
        Assert.DoesNotContain("P01/R3/f1.png", failed);

        var unknownState = await client.GetStringAsync($"/studies/{data.StudyId}?images_state=nonsense&images_from=-5");
        Assert.Contains("Images (1–2 of 3)", unknownState);   // an unknown state lists all; a negative offset starts at 0
    }
}
