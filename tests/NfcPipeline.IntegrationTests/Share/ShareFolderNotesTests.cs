using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Migrations;
using NfcPipeline.Storage.Share;

namespace NfcPipeline.IntegrationTests.Share;

/// <summary>share_folder_notes as the scans and registrations keep them, against the real database.</summary>
public class ShareFolderNotesTests
{
    [Fact]
    public async Task Scans_replace_their_notes_keep_when_a_state_began_and_leave_registration_refusals_of_folders_still_there()
    {
        await using var db = await TestDatabase.CreateAsync();
        await new MigrationRunner(db.ConnectionString).ApplyAsync(MigrationSource.Embedded());
        var store = new ShareScanStore(db.ConnectionString);
        await store.RecordRegistrationRefusalAsync("/share", "kept", "id registered from another folder", default);
        await store.RecordRegistrationRefusalAsync("/share", "gone", "id registered from another folder", default);
        await store.RecordRegistrationRefusalAsync("/share", "site/nested", "id registered from another folder", default);   // nfc enqueue
        await store.ReplaceFolderNotesAsync("/share", [new("late", "waiting", "file times lie 37 s in the future")], ["kept", "late"], default);
        var since = await db.ScalarAsync<DateTime>("select first_seen from share_folder_notes where folder = 'late'");
        await Task.Delay(50);

        await store.ReplaceFolderNotesAsync("/share", [new("late", "waiting", "file times lie 12 s in the future")], ["kept", "late"], default);

        Assert.Equal("kept registration_refused|late waiting|site/nested registration_refused",
            await db.ScalarAsync<string>("select string_agg(folder || ' ' || state, '|' order by folder) from share_folder_notes"));
        Assert.Equal(since, await db.ScalarAsync<DateTime>("select first_seen from share_folder_notes where folder = 'late'"));   // same state: same start
        Assert.Equal("file times lie 12 s in the future", await db.ScalarAsync<string>("select reason from share_folder_notes where folder = 'late'"));

        await store.ClearRegistrationRefusalAsync("/share", "kept", default);
        await store.ReplaceFolderNotesAsync("/share", [], ["kept"], default);
        Assert.Equal("site/nested", await db.ScalarAsync<string>("select string_agg(folder, '|') from share_folder_notes"));
    }

    [Fact]
    public async Task A_registration_clears_the_refusals_noted_before_it_and_a_redelivered_old_one_leaves_a_newer_refusal()
    {
        await using var migrated = await MigratedDatabase.CreateAsync();
        var s = await NfcPipeline.IntegrationTests.Pipeline.ResubmissionRaceTests.SeedAsync(migrated.Db, 1);
        var store = new ShareScanStore(migrated.Db.ConnectionString);
        var old = Guid.NewGuid();
        await using (var c = await migrated.Db.OpenConnectionAsync())
        await using (var insert = new Npgsql.NpgsqlCommand(
            "insert into study_submissions (study_id, message_id, registered_at) values (@s, @m, now() - interval '1 hour')", c))
        {
            insert.Parameters.AddWithValue("s", s.StudyId);
            insert.Parameters.AddWithValue("m", old);
            await insert.ExecuteNonQueryAsync();
        }
        await store.RecordRegistrationRefusalAsync("/share", "S", "id registered from another folder", default);
        async Task<long> Notes() => (long)(await migrated.Db.CreateCommand("select count(*) from share_folder_notes where folder = 'S'").ExecuteScalarAsync())!;

        await store.ClearRegistrationRefusalAsync("/share", "S", default, old);   // registered an hour before the refusal
        Assert.Equal(1L, await Notes());
        await store.ClearRegistrationRefusalAsync("/share", "S", default, Guid.NewGuid());   // registered just now
        Assert.Equal(0L, await Notes());
    }

    [Fact]
    public async Task A_refused_folder_noted_otherwise_by_a_scan_is_submitted_again_once_ready()
    {
        // A refused folder whose READY was taken away while its cause was fixed (no file changed) got a no_marker note in
        // the refusal's place; ready again, it had no note, and its unchanged fingerprint counted as submitted: never again.
        await using var db = await TestDatabase.CreateAsync();
        await new MigrationRunner(db.ConnectionString).ApplyAsync(MigrationSource.Embedded());
        var store = new ShareScanStore(db.ConnectionString);
        await store.RecordSubmissionAsync("/share", "S1", "fp", "S1", default);
        await store.RecordSubmissionAsync("/share", "S2", "fp", "S2", default);
        await store.RecordRegistrationRefusalAsync("/share", "S1", "id registered from another folder", default);
        // Refused just now: submitted again only once the retry interval has passed.
        Assert.Equal(["S1", "S2"], (await store.GetSubmittedFingerprintsAsync("/share", TimeSpan.FromDays(1), default)).Keys.Order());

        await store.ReplaceFolderNotesAsync("/share", [new("S1", "no_marker", "no READY file"), new("S2", "no_marker", "no READY file")],
            ["S1", "S2"], default);
        await store.ReplaceFolderNotesAsync("/share", [], ["S1", "S2"], default);   // both ready again

        Assert.Equal(["S2"], (await store.GetSubmittedFingerprintsAsync("/share", TimeSpan.FromDays(1), default)).Keys);
        Assert.Equal(0L, await db.ScalarAsync<long>("select count(*) from share_folder_notes"));
    }

    [Fact]
    public async Task A_refused_folder_that_was_gone_for_a_scan_is_submitted_again_when_it_comes_back()
    {
        // The mount blipped: the folder refused ("does not exist in the share"), then a scan of the empty mount dropped the
        // refusal but kept the submission, so the folder back unchanged counted as submitted, for good.
        await using var db = await TestDatabase.CreateAsync();
        await new MigrationRunner(db.ConnectionString).ApplyAsync(MigrationSource.Embedded());
        var store = new ShareScanStore(db.ConnectionString);
        await store.RecordSubmissionAsync("/share", "S1", "fp", "S1", default);
        await store.RecordSubmissionAsync("/share", "S2", "fp", "S2", default);
        await store.RecordRegistrationRefusalAsync("/share", "S1", "the folder does not exist in the share", default);

        await store.ReplaceFolderNotesAsync("/share", [], [], default);   // a scan that saw neither

        Assert.Equal(["S2"], (await store.GetSubmittedFingerprintsAsync("/share", TimeSpan.FromDays(1), default)).Keys);
    }

    [Fact]
    public async Task Two_folders_that_list_alike_give_one_note_instead_of_failing_the_scan()
    {
        // "M\xfcller" and "M\xe4ller" written in Latin-1 both list as "M\uFFFDller"; upserting both in one statement
        // failed ("ON CONFLICT DO UPDATE command cannot affect row a second time") and with it every scan of the share.
        await using var db = await TestDatabase.CreateAsync();
        await new MigrationRunner(db.ConnectionString).ApplyAsync(MigrationSource.Embedded());
        var store = new ShareScanStore(db.ConnectionString);
        var reason = "the folder " + NfcPipeline.Intake.SharePaths.UndecodableNameReason;

        await store.ReplaceFolderNotesAsync("/share", [new("M\uFFFDller", "refused", reason), new("M\uFFFDller", "refused", reason)], ["M\uFFFDller"], default);

        Assert.Equal(1L, await db.ScalarAsync<long>("select count(*) from share_folder_notes where folder = 'M\uFFFDller' and state = 'refused'"));
    }
}
