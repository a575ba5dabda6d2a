namespace NfcPipeline.Imaging.Tests;

public class NativeLibrariesTests
{
    [Fact]
    public void Describe_names_the_loaded_library_versions()
    {
        string text = NativeLibraries.Describe();

        Assert.Matches(@"^libpng 1\.6\.\d+; LIBTIFF, Version 4\.\d+\.\d+; libturbojpeg\.so\.0$", text);
    }
}
