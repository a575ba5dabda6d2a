using NfcPipeline.Core.Domain;

namespace NfcPipeline.Core.Tests.Domain;

public class PrintableTextTests
{
    [Theory]
    [InlineData("P01\u200B")]   // zero-width space: looks like P01
    [InlineData("P\u200E01")]   // left-to-right mark
    [InlineData("P\u200F01")]   // right-to-left mark
    [InlineData("P\u061C01")]   // Arabic letter mark
    [InlineData("\uFEFFP01")]   // a byte-order mark kept by an editor
    [InlineData("P\u206001")]   // word joiner
    [InlineData("P\u00AD01")]   // soft hyphen
    [InlineData("P\u202E10P")]  // a bidirectional override
    [InlineData("P01\u180E")]   // the Mongolian vowel separator outside Mongolian: invisible
    [InlineData("P01\n")]
    public void Invisible_and_reordering_characters_are_unprintable(string name)
    {
        Assert.True(PrintableText.HasUnprintable(name));
        Assert.DoesNotContain(PrintableText.Printable(name), c => PrintableText.IsUnprintable(c));
    }

    [Theory]
    [InlineData("P01")]
    [InlineData("Müller")]
    [InlineData("می\u200Cخواهم")]   // Persian spells words with the zero-width non-joiner
    [InlineData("क्\u200Dष")]        // and Indic scripts with the joiner
    [InlineData("\u1828\u180E\u1820")]   // and Mongolian with its vowel separator
    public void Names_as_people_write_them_are_printable(string name) => Assert.False(PrintableText.HasUnprintable(name));
}
