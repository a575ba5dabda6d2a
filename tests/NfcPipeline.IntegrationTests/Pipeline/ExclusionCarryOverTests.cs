using Dapper;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Pipeline;

namespace NfcPipeline.IntegrationTests.Pipeline;

/// <summary>A reviewer's exclusion follows its content to a new path, and only there, against the real database.</summary>
public class ExclusionCarryOverTests
{
    /// <summary>A reviewer's exclusion of the image at <paramref name="path"/>, as the dashboard records it.</summary>
    private static Task ExcludeAsync(Npgsql.NpgsqlConnection c, string path, string reason) => c.ExecuteAsync("""
        update images set qc_exclusion = @reason, qc_excluded_by = 'test', qc_excluded_at = now(), qc_changed_at = now()
        where rel_path = @path
        """, new { path, reason });

    /// <summary>Registers <paramref name="study"/> at the seeded study's model and calibration, as a resubmission does.</summary>
    private static Task RegisterAsync(StudyRegistrationStore registrations, ResubmissionRaceTests.Seeded s, StudyRegistration study) =>
        registrations.RegisterAsync(study, s.ModelId, 2.0, false, 10, "{}", default);

    /// <summary>The seeded study registered as submitted, for the next registration to change.</summary>
    private static async Task<StudyRegistration> RegisteredAsync(StudyRegistrationStore registrations, ResubmissionRaceTests.Seeded s)
    {
        var first = ResubmissionRaceTests.SubmittedAgain(s);
        await RegisterAsync(registrations, s, first);
        return first;
    }

    [Fact]
    public async Task An_exclusion_follows_a_moved_file_but_not_onto_an_unreviewed_copy_that_stayed()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var s = await ResubmissionRaceTests.SeedAsync(migrated.Db, 2);
        var registrations = new StudyRegistrationStore(migrated.Db);
        await using var c = await migrated.Db.OpenConnectionAsync();
        Task Exclude(string path) => ExcludeAsync(c, path, "read twice");
        async Task<string?> ExclusionOf(string path) =>
            await c.ExecuteScalarAsync<string?>("select qc_exclusion from images where rel_path = @path", new { path });

        // Two files of one content; the copy excluded as read twice, then deleted: the original keeps no exclusion.
        var twins = ResubmissionRaceTests.SubmittedAgain(s, sha: _ => s.Shas[0]);
        await RegisterAsync(registrations, s, twins);
        await Exclude("P1/L2/f1.png");
        await RegisterAsync(registrations, s, twins with { Images = twins.Images.Take(1).ToList() });
        Assert.Null(await ExclusionOf("P1/L2/f0.png"));

        // The file excluded, then moved (its finger folder renamed): the exclusion goes with it.
        await Exclude("P1/L2/f0.png");
        var moved = twins.Images[0] with { Finger = "L3", RelativePath = "P1/L3/f0.png" };
        await RegisterAsync(registrations, s, twins with { Images = [moved] });
        Assert.Equal("read twice", await ExclusionOf("P1/L3/f0.png"));
        Assert.Equal(1L, await c.ExecuteScalarAsync<long>("select count(*) from images"));

        // Both in the audit log, as a reviewer's own changes are: the copy's exclusion cleared as it left the study, and
        // the original's moved with its file (the audit page showed neither, and a field silently counted again).
        Assert.Equal("include_field|registration|L2/f1.png|read twice;exclude_field|registration|L3/f0.png|L2/f0.png", await c.ExecuteScalarAsync<string>("""
            select string_agg(action || '|' || actor || '|' || regexp_replace(details ->> 'field', '^.*?/', '') || '|' ||
                              coalesce(regexp_replace(details ->> 'moved_from', '^.*?/', ''), details ->> 'previous_reason'), ';' order by id)
            from audit_log
            """));
        var sha = await c.ExecuteScalarAsync<string>("select details ->> 'sha256' from audit_log order by id desc limit 1");
        Assert.Equal(s.Shas[0], Convert.FromHexString(sha ?? ""));
    }

    [Fact]
    public async Task An_exclusion_follows_its_file_when_two_fields_swap_paths()
    {
        // The excluded file moved to a path that still exists (two fields renumbered): the upsert cleared the exclusion
        // where the content at that path changed, and nothing carried it, so the field counted again.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var s = await ResubmissionRaceTests.SeedAsync(migrated.Db, 2);
        var registrations = new StudyRegistrationStore(migrated.Db);
        await using var c = await migrated.Db.OpenConnectionAsync();
        var first = await RegisteredAsync(registrations, s);
        var (a, b) = (first.Images[0], first.Images[1]);
        await ExcludeAsync(c, a.RelativePath, "air bubble");

        var swapped = first with { Images = [a with { Sha256 = b.Sha256 }, b with { Sha256 = a.Sha256 }] };
        await RegisterAsync(registrations, s, swapped);

        Assert.Equal("air bubble", await c.ExecuteScalarAsync<string?>("select qc_exclusion from images where rel_path = @RelativePath", new { b.RelativePath }));
        Assert.Null(await c.ExecuteScalarAsync<string?>("select qc_exclusion from images where rel_path = @RelativePath", new { a.RelativePath }));
    }

    [Fact]
    public async Task An_exclusion_follows_its_file_into_another_finger_folder_and_the_audit_says_where_from()
    {
        // The reason may be about the pixels (an air bubble) or about the place ("wrong finger, this is L3"): which, the
        // registration cannot tell, so the field stays out (the safer of the two) and the audit names the move, for the
        // reviewer to include it again where it now belongs.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var s = await ResubmissionRaceTests.SeedAsync(migrated.Db, 2);
        var registrations = new StudyRegistrationStore(migrated.Db);
        await using var c = await migrated.Db.OpenConnectionAsync();
        var first = await RegisteredAsync(registrations, s);
        var (stays, wrong) = (first.Images[0], first.Images[1]);
        await ExcludeAsync(c, wrong.RelativePath, "wrong finger, this is L3");

        var moved = wrong with { Finger = "L3", RelativePath = wrong.RelativePath.Replace("/L2/", "/L3/") };
        await RegisterAsync(registrations, s, first with { Images = [stays, moved] });

        Assert.Equal("wrong finger, this is L3", await c.ExecuteScalarAsync<string?>("select qc_exclusion from images where rel_path = @RelativePath", new { moved.RelativePath }));
        Assert.Equal("exclude_field|L3|L2", await c.ExecuteScalarAsync<string>("""
            select action || '|' || split_part(details ->> 'field', '/', 2) || '|' || split_part(details ->> 'moved_from', '/', 2)
            from audit_log where actor = 'registration'
            """));
    }

    [Fact]
    public async Task Of_two_moved_twins_only_the_excluded_ones_new_path_is_excluded()
    {
        // One content twice, the second excluded as read twice, and the finger folder renamed: both new rows took the
        // exclusion, and a field that counted once counted no more.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var s = await ResubmissionRaceTests.SeedAsync(migrated.Db, 2);
        var registrations = new StudyRegistrationStore(migrated.Db);
        await using var c = await migrated.Db.OpenConnectionAsync();
        var twins = ResubmissionRaceTests.SubmittedAgain(s, sha: _ => s.Shas[0]);
        await RegisterAsync(registrations, s, twins);
        await ExcludeAsync(c, twins.Images[1].RelativePath, "read twice");

        var moved = twins with { Images = [.. twins.Images.Select(i => i with { Finger = "L3", RelativePath = i.RelativePath.Replace("/L2/", "/L3/") })] };
        await RegisterAsync(registrations, s, moved);

        Assert.Equal("-|read twice", await c.ExecuteScalarAsync<string>(
            "select string_agg(coalesce(qc_exclusion, '-'), '|' order by rel_path) from images"));
    }

    [Fact]
    public async Task A_registered_file_unreadable_for_a_moment_keeps_its_content_and_its_exclusion()
    {
        // Its stand-in hash cleared the exclusion and set it pending, and once readable the file failed for good as
        // ChangedSinceRegistration, while the folder's fingerprint never changed to resubmit it.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var s = await ResubmissionRaceTests.SeedAsync(migrated.Db, 2);
        var registrations = new StudyRegistrationStore(migrated.Db);
        await using var c = await migrated.Db.OpenConnectionAsync();
        var first = ResubmissionRaceTests.SubmittedAgain(s);
        first = first with { Images = [.. first.Images.Select(i => i with { SizeBytes = 1234, Width = 640, Height = 480, Format = "Png" })] };
        await RegisterAsync(registrations, s, first);
        await ExcludeAsync(c, first.Images[0].RelativePath, "air bubble");
        const string Row = "select (sha256, size_bytes, width, height, format, qc_exclusion, qc_excluded_at)::text from images where rel_path = @RelativePath";
        var before = await c.ExecuteScalarAsync<string>(Row, new { first.Images[0].RelativePath });

        var standIn = System.Security.Cryptography.SHA256.HashData("nfc:unreadable:x"u8);
        var again = first with { Images = [first.Images[0] with { Sha256 = standIn, Width = null, Height = null, Format = null, Unread = true },
            first.Images[1] with { Sha256 = standIn, SizeBytes = 99, Unread = true },   // another size: new content, not kept
            new ImageRegistration("P1", "L2", "new", "P1/L2/new.png", standIn, 0, null, null, null, Unread: true)] };
        await RegisterAsync(registrations, s, again);

        Assert.Equal(before, await c.ExecuteScalarAsync<string>(Row, new { first.Images[0].RelativePath }));
        Assert.Contains("air bubble", before);
        // Its size unknown too (stat failed: gone for a moment): kept.
        await registrations.RegisterAsync(again with { Images = [again.Images[0] with { SizeBytes = -1 }, .. again.Images.Skip(1)] },
            s.ModelId, 2.0, false, 10, "{}", default);
        Assert.Equal(before, await c.ExecuteScalarAsync<string>(Row, new { first.Images[0].RelativePath }));
        // A path never registered has nothing to keep: it is registered under its stand-in and fails with its reason.
        Assert.Equal(standIn, await c.ExecuteScalarAsync<byte[]>("select sha256 from images where rel_path = 'P1/L2/new.png'"));
        Assert.Equal(standIn, await c.ExecuteScalarAsync<byte[]>("select sha256 from images where rel_path = @RelativePath", new { first.Images[1].RelativePath }));
    }

    [Fact]
    public async Task A_moved_study_with_files_unreadable_for_now_is_still_known_by_the_content_it_can_read()
    {
        // The stand-ins counted as changed content: a moved study with most files briefly unreadable was refused as
        // another folder under a registered id.
        await using var migrated = await MigratedDatabase.CreateAsync();
        var s = await ResubmissionRaceTests.SeedAsync(migrated.Db, 3);
        var registrations = new StudyRegistrationStore(migrated.Db);
        var first = await RegisteredAsync(registrations, s);
        var standIn = System.Security.Cryptography.SHA256.HashData("nfc:unreadable:x"u8);
        var moved = first with { SourcePath = "moved", Images = [first.Images[0],
            .. first.Images.Skip(1).Select(i => i with { Sha256 = standIn, Unread = true })] };

        var registered = await registrations.RegisterAsync(moved, s.ModelId, 2.0, false, 10, "{}", default, registeredFolderGone: _ => true);

        Assert.Equal(s.StudyId, registered.StudyId);
        await using var c = await migrated.Db.OpenConnectionAsync();
        Assert.Equal("moved", await c.ExecuteScalarAsync<string>("select source_path from studies"));
        Assert.Equal(s.Shas.Select(Convert.ToHexString), await c.QueryAsync<string>("select encode(sha256, 'hex') from images order by rel_path")
            .ContinueWith(t => t.Result.Select(h => h.ToUpperInvariant())));
    }
}
