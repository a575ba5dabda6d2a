namespace NfcPipeline.Intake.Tests;

public class UnicodeNamesTests
{
    [Theory]
    [InlineData("M\u00fcller", "Mu\u0308ller")]                    // composed (an editor) and decomposed (macOS)
    [InlineData("J\u00f8rgensen \u00c9lise", "J\u00f8rgensen E\u0301lise")]   // ø has no decomposition
    [InlineData("Nguy\u1ec5n", "Nguye\u0302\u0303n")]              // two marks on one letter
    [InlineData("\u1ec7", "\u00ea\u0323")]                          // ê then a dot below: marks in canonical order
    [InlineData("\u0419\u043e\u0301\u0442", "\u0418\u0306\u043e\u0301\u0442")]   // Cyrillic short i
    [InlineData("\u304c\u3063\u3053\u3046", "\u304b\u3099\u3063\u3053\u3046")]   // kana with dakuten
    [InlineData("\ud55c\uae00", "\u1112\u1161\u11ab\u1100\u1173\u11af")]           // Hangul syllables
    [InlineData("\u00c5ngstr\u00f6m", "\u212bngstro\u0308m")]                              // the Angstrom sign is an Å
    [InlineData("\u0623\u062d\u0645\u062f", "\u0627\u0654\u062d\u0645\u062f")]           // Arabic alef with hamza above
    [InlineData("\u0915\u093c", "\u0958")]                                              // Devanagari qa, as its two parts
    [InlineData("\u05e9\u05c1\u05b8", "\u05e9\u05b8\u05c1")]                               // Hebrew marks in canonical order
    public void Names_in_either_unicode_form_have_one_key(string composed, string decomposed) =>
        Assert.Equal(UnicodeNames.Key(composed), UnicodeNames.Key(decomposed));

    [Theory]
    [InlineData("M\u00fcller", "Muller")]
    [InlineData("\u00e9", "\u00e8")]
    [InlineData("P001", "p001")]
    public void Different_names_keep_different_keys(string a, string b) => Assert.NotEqual(UnicodeNames.Key(a), UnicodeNames.Key(b));

    [Fact]
    public void Ascii_names_are_their_own_keys() => Assert.Same("P-001 L2", UnicodeNames.Key("P-001 L2"));

    [Fact]
    public void A_listed_images_patient_and_finger_must_show_apart_in_code_finger_file()
    {
        Assert.Null(SharePaths.ListedNameProblem("P01", "L2"));
        Assert.Null(SharePaths.ListedNameProblem("M\u00fcller J.", null));
        Assert.Equal("the patient may not hold '/' or '\\' (reports show code/finger/file)", SharePaths.ListedNameProblem("P01/L2", null));
        Assert.Equal("the finger may not hold '/' or '\\' (reports show code/finger/file)", SharePaths.ListedNameProblem("P01", @"L2\x"));
        Assert.Equal("the finger may not be empty or begin or end with a space", SharePaths.ListedNameProblem("P01", "L2 "));
        Assert.Null(SharePaths.ListedNameProblem("P01", ""));   // no finger, as before
        Assert.Equal("the finger may not be empty or begin or end with a space", SharePaths.ListedNameProblem("P01", " "));
        Assert.Equal("the patient must be printable", SharePaths.ListedNameProblem("P\n01", null));
        Assert.Equal("the patient must be at most 128 characters", SharePaths.ListedNameProblem(new string('p', 129), null));
    }
}
