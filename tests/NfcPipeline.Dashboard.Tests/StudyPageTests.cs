namespace NfcPipeline.Dashboard.Tests;

/// <summary>A study's page lists its images in pages and by state, so a large study's failures are not cut off.</summary>
public class StudyPageTests
{
    [Fact]
    public async Task Images_are_paged_and_filtered_by_state()
    {
        await using (var marked = await TestData.CreateAsync())
        {
            // An ungradable field's density is marked: it is not in the patient's mean (it read as one of its values).
            await marked.Database.ScalarAsync<int>("update image_metrics set gradable = false, density_per_mm = 2.0 where density_per_mm = 7.5; select 1");
            await using var plain = await DashboardHost.StartAsync(marked.Database.ConnectionString);
            var page = await plain.Client().GetStringAsync($"/studies/{marked.StudyId}");
            Assert.Contains("2 (ungradable)</span>", page);
            // One excluded at review is marked so, whatever the model graded it (a gradable one read as ungradable).
            int ungradable = System.Text.RegularExpressions.Regex.Count(page, "\\(ungradable\\)");
            await marked.Database.ScalarAsync<int>("""
                update image_metrics set gradable = true
                where image_sha256 = (select sha256 from images where state = 'succeeded' order by id limit 1);
                update images set qc_exclusion = 'out of focus', qc_excluded_by = 'op', qc_excluded_at = now(), qc_changed_at = now()
                where id = (select id from images where state = 'succeeded' order by id limit 1);
                update studies set registered_at = created_at + interval '3 days';
                select 1
                """);
            page = await plain.Client().GetStringAsync($"/studies/{marked.StudyId}");
            Assert.Matches("title=\"excluded at review: not in the patient's density\">[0-9.]+ \\(excluded\\)</span>", page);
            Assert.Equal(ungradable - 1, System.Text.RegularExpressions.Regex.Count(page, "\\(ungradable\\)"));
            // Registered: when last submitted, the first registration beside it.
            Assert.Matches("<tr><th>Registered</th><td>[^<]+ \\(first [^<]+\\)</td></tr>", page);
            Assert.Contains("<th>Instances (all classes)</th><th>Quality</th>", page);
            Assert.Contains("<td>non-scleroderma</td><td>7.5</td><td>nfc-dense 1.0</td>", page);   // the model each patient's numbers are from

            // An uncalibrated study shows the scale its images were measured at (it showed "–"), and says whose it is.
            await marked.Database.ScalarAsync<int>("update studies set um_per_px = null, analysis_um_per_px = 1.8; select 1");
            Assert.Contains("<th>µm per pixel</th><td>1.8 (the worker's default: the study gives none)</td>",
                await plain.Client().GetStringAsync($"/studies/{marked.StudyId}"));
        }

        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString,
            new Dictionary<string, string?> { ["Dashboard:StudyImagesPageSize"] = "2" });
        using var client = host.Client();

        var first = await client.GetStringAsync($"/studies/{data.StudyId}");
        Assert.Contains("Images (first 2 of 3)", first);
        Assert.Contains("P01/L2/f1.png", first);
        Assert.Contains("P01/R3/f1.png", first);
        Assert.DoesNotContain("/L2/f1.png", first.Replace("P01/L2/f1.png", ""));
        Assert.Contains($"href=\"/studies/{data.StudyId}?images_state=&images_after={data.ImageIds[1]}\">Next →", first);
        // A result's notes (decoder and measurement) show beside it.
        Assert.Contains("<span class=\"notes\">EXIF orientation 6 applied · Sparse distal row: 2 capillaries, fewer than 3.</span>", first);

        var second = await client.GetStringAsync($"/studies/{data.StudyId}?images_after={data.ImageIds[1]}");
        Assert.Contains("Images (1 more of 3)", second);
        Assert.Contains("&lt;/script&gt;/L2/f1.png", second);   // its folder shown by its (mapped) code, encoded
        Assert.DoesNotContain("P01/L2/f1.png", second);
        Assert.Contains("← First page", second);
        Assert.DoesNotContain("Next →", second);

        var failed = await client.GetStringAsync($"/studies/{data.StudyId}?images_state=failed");
        Assert.Contains("Images (first 1 of 1)", failed);
        Assert.Contains("the file is truncated", failed);
        Assert.DoesNotContain("P01/R3/f1.png", failed);

        var unknownState = await client.GetStringAsync($"/studies/{data.StudyId}?images_state=nonsense");
        Assert.Contains("Images (first 2 of 3)", unknownState);   // an unknown state lists all

        // "Next" after an image a resubmission removed since: the first page, said to be one (it read "1 more of 3").
        var gone = await client.GetStringAsync($"/studies/{data.StudyId}?images_after=987654321");
        Assert.Contains("Image 987654321, where the last page ended, is no longer in this study (submitted again since?): the images are listed from the first page.", gone);
        Assert.Contains("Images (first 2 of 3)", gone);
        Assert.DoesNotContain("← First page", gone);
    }

    [Fact]
    public async Task A_state_filtered_listing_skips_no_image_that_changes_state_between_pages()
    {
        await using var data = await TestData.CreateAsync();
        await data.Database.ScalarAsync<int>("update images set state = 'queued' returning 1");
        await using var db = Npgsql.NpgsqlDataSource.Create(data.Database.ConnectionString);
        var queries = new NfcPipeline.Storage.Reporting.ReportingQueries(db);

        var page1 = await queries.ImagesAsync(data.StudyId, limit: 1, state: "queued");
        // The first image finishes before the next page is asked for: an offset of 1 would now skip the second.
        await data.Database.ScalarAsync<int>($"update images set state = 'succeeded' where id = {page1[0].Id} returning 1");
        var page2 = await queries.ImagesAsync(data.StudyId, limit: 1, state: "queued", afterImageId: page1[^1].Id);
        var page3 = await queries.ImagesAsync(data.StudyId, limit: 1, state: "queued", afterImageId: page2[^1].Id);

        Assert.Equal(data.ImageIds, [page1[0].Id, page2[0].Id, page3[0].Id]);

        // The anchor of a "Next" link removed since (a resubmission dropped the file): said, not taken for the start (a
        // caller walking pages read the first ones again); the page and the API say it their way.
        Assert.Equal(987_654, (await Assert.ThrowsAsync<NfcPipeline.Storage.Reporting.ListingAnchorGoneException>(() =>
            queries.ImagesAsync(data.StudyId, limit: 1, state: "queued", afterImageId: 987_654))).ImageId);

        // An anchor of another study's listing is gone from this one too, rather than page this study from that image's place.
        var other = await data.Database.ScalarAsync<long>("""
            with s as (insert into studies (external_id, source_path, um_per_px, state, image_count) values ('OTHER', 'other', 2.0, 'processing', 1) returning id),
                 p as (insert into patients (study_id, code, state) select id, 'ZZ', 'processing' from s returning id, study_id)
            insert into images (study_id, patient_id, finger, field, rel_path, sha256, size_bytes, width, height, format, state)
            select p.study_id, p.id, 'R5', 'zz', 'ZZ/R5/zz.png', i.sha256, i.size_bytes, i.width, i.height, i.format, 'queued'
            from p, images i where i.id = (select min(id) from images) returning id
            """);
        await Assert.ThrowsAsync<NfcPipeline.Storage.Reporting.ListingAnchorGoneException>(() => queries.ImagesAsync(data.StudyId, limit: 1, state: "queued", afterImageId: other));
    }
}
