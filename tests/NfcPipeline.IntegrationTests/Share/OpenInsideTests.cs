using NfcPipeline.Imaging;
using NfcPipeline.Intake;
using NfcPipeline.IntegrationTests.Infrastructure;

namespace NfcPipeline.IntegrationTests.Share;

/// <summary>Share files are checked on the open file: what the decoder reads through SharePaths.OpenInside.</summary>
public sealed class OpenInsideTests : IDisposable
{
    private readonly DirectoryInfo _share = Directory.CreateTempSubdirectory("nfc-confined-");
    private readonly DirectoryInfo _outside = Directory.CreateTempSubdirectory("nfc-outside-");

    public void Dispose()
    {
        _share.Delete(recursive: true);
        _outside.Delete(recursive: true);
    }

    [Fact]
    public void A_file_that_leads_out_of_the_share_when_opened_is_refused()
    {
        var image = Path.Combine(TestServices.RepoRoot, "tests", "fixtures", "images", "gradient.jpg");
        string inside = Path.Combine(_share.FullName, "f.jpg"), swapped = Path.Combine(_share.FullName, "g.jpg");
        File.Copy(image, inside);
        File.Copy(image, Path.Combine(_outside.FullName, "secret.jpg"));
        // The path was checked; by the time it is opened, a link leading out stands at its name.
        File.CreateSymbolicLink(swapped, Path.Combine(_outside.FullName, "secret.jpg"));
        var decoder = new ImageDecoder(null, p => SharePaths.OpenInside(p, _share.FullName));

        var error = Assert.Throws<ImageDecodeException>(() => decoder.DecodeFile(swapped));
        Assert.Equal(ImageDecodeError.Unreadable, error.Reason);
        Assert.Contains("led out of the allowed folder", error.Message);
        Assert.Equal(ImageDecodeError.Unreadable, Assert.Throws<ImageDecodeException>(() => decoder.ReadHeaderFile(swapped)).Reason);
        Assert.True(decoder.DecodeFile(inside).Width > 0);   // inside: decoded as before
    }
}
