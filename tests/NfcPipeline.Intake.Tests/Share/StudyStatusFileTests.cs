using System.Text.Json;
using NfcPipeline.Intake;
using NfcPipeline.Intake.Share;

namespace NfcPipeline.Intake.Tests.Share;

public sealed class StudyStatusFileTests : IDisposable
{
    private readonly TestShare _share = new();

    public void Dispose() => _share.Dispose();

    private string RealRoot => SharePaths.RealPath(_share.Root);

    private sealed record Status(string State, string StudyId, DateTimeOffset SubmittedAt);

    [Fact]
    public void Write_puts_snake_case_json_next_to_the_study_and_replaces_the_previous_status()
    {
        var folder = Path.GetDirectoryName(_share.Touch("s1/READY"))!;
        var statusFile = new StudyStatusFile();

        Assert.True(statusFile.Write(folder, RealRoot, new Status("submitted", "S-1", TestShare.T0)));
        Assert.True(statusFile.Write(folder, RealRoot, new Status("submitted", "S-2", TestShare.T0)));

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, StudyStatusFile.FileName)));
        Assert.Equal("submitted", json.RootElement.GetProperty("state").GetString());
        Assert.Equal("S-2", json.RootElement.GetProperty("study_id").GetString());
        Assert.Equal(TestShare.T0, json.RootElement.GetProperty("submitted_at").GetDateTimeOffset());
        Assert.Equal([StudyStatusFile.FileName, "READY"], Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_status_file_the_pipeline_did_not_write_is_left_as_it_is_and_one_it_wrote_before_the_mark_is_replaced()
    {
        // "Nothing the user dropped is ever modified": a .nfc-status.json copied in with the study was replaced.
        var folder = Path.GetDirectoryName(_share.Touch("s1/READY"))!;
        var path = Path.Combine(folder, StudyStatusFile.FileName);
        foreach (var foreign in new[] { "my notes, not JSON", """{"state": "reviewed", "by": "olga"}""", """{"state": "a", "state": "b", "x": 1}""" })
        {
            File.WriteAllText(path, foreign);
            Assert.False(new StudyStatusFile().Write(folder, RealRoot, new Status("submitted", "S-1", TestShare.T0)));
            Assert.Equal(foreign, File.ReadAllText(path));
            Assert.Equal([StudyStatusFile.FileName, "READY"], Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        }
        File.WriteAllText(path, """{"state": "submitted", "study_id": "S-0", "submitted_at": "2026-01-01T00:00:00+00:00"}""");   // an earlier version's
        Assert.True(new StudyStatusFile().Write(folder, RealRoot, new Status("submitted", "S-1", TestShare.T0)));
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        Assert.Equal(("S-1", "nfcpipeline"), (json.RootElement.GetProperty("study_id").GetString(), json.RootElement.GetProperty("written_by").GetString()));
    }

    [Fact]
    public void A_link_at_the_status_name_is_the_users_neither_written_through_nor_replaced()
    {
        var folder = Path.GetDirectoryName(_share.Touch("s1/READY"))!;
        var victim = Path.Combine(_share.Outside, "victim.txt");
        File.WriteAllText(victim, "user data");
        File.CreateSymbolicLink(Path.Combine(folder, StudyStatusFile.FileName), victim);

        Assert.False(new StudyStatusFile().Write(folder, RealRoot, new Status("submitted", "S-1", TestShare.T0)));

        Assert.Equal("user data", File.ReadAllText(victim));
        Assert.Equal(victim, new FileInfo(Path.Combine(folder, StudyStatusFile.FileName)).LinkTarget);
        Assert.Equal([StudyStatusFile.FileName, "READY"], Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_study_folder_that_is_a_link_gets_no_status_in_the_folder_it_leads_to()
    {
        // Curated-A -> A1: A1's status would say Curated-A's id.
        var a1 = Path.GetDirectoryName(_share.Touch("A1/READY"))!;
        Directory.CreateSymbolicLink(Path.Combine(_share.Root, "Curated-A"), a1);

        Assert.False(new StudyStatusFile().Write(Path.Combine(_share.Root, "Curated-A"), RealRoot, new Status("submitted", "Curated-A", TestShare.T0)));
        Assert.Equal(["READY"], Directory.EnumerateFileSystemEntries(a1).Select(Path.GetFileName));
        Assert.True(new StudyStatusFile().Write(a1, RealRoot, new Status("submitted", "A1", TestShare.T0)));
    }

    [Fact]
    public void Write_that_the_folder_refuses_returns_false_and_leaves_nothing_behind()
    {
        var folder = Path.GetDirectoryName(_share.Touch("s1/READY"))!;
        // A folder at the status name makes the final rename fail the way a read-only share does: with an IOException.
        Directory.CreateDirectory(Path.Combine(folder, StudyStatusFile.FileName, "occupied"));
        string[] Entries() => Directory.EnumerateFileSystemEntries(_share.Root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        var before = Entries();

        Assert.False(new StudyStatusFile().Write(folder, RealRoot, new Status("submitted", "S-1", TestShare.T0)));

        Assert.Equal(before, Entries());
    }

    [Fact]
    public void Write_into_a_folder_that_does_not_exist_returns_false()
    {
        Assert.False(new StudyStatusFile().Write(Path.Combine(_share.Root, "gone"), RealRoot, new Status("submitted", "S-1", TestShare.T0)));
        Assert.False(Directory.Exists(Path.Combine(_share.Root, "gone")));
    }

    [Fact]
    public void Write_into_a_study_folder_that_is_now_a_link_leading_out_of_the_share_writes_nothing()
    {
        // Scanned as a folder, then swapped for a link to a folder outside the share before the status is written.
        var outside = Directory.CreateDirectory(Path.Combine(_share.Outside, "elsewhere")).FullName;
        File.CreateSymbolicLink(Path.Combine(_share.Root, "s2"), outside);

        Assert.False(new StudyStatusFile().Write(Path.Combine(_share.Root, "s2"), RealRoot, new Status("submitted", "S-1", TestShare.T0)));
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
    }
}
