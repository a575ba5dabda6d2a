using NfcPipeline.Dashboard.Rendering;

namespace NfcPipeline.Dashboard.Tests;

public class PatternLabelTests
{
    [Theory]
    [InlineData("non_scleroderma", "Non-scleroderma pattern <span class=\"code\">(non_scleroderma)</span>")]
    [InlineData("scleroderma_active", "Scleroderma pattern, active <span class=\"code\">(scleroderma_active)</span>")]
    [InlineData("scleroderma", "Scleroderma pattern, stage not determined <span class=\"code\">(scleroderma)</span>")]
    [InlineData("scleroderma_late", "Scleroderma pattern, late <span class=\"code\">(scleroderma_late)</span>")]
    [InlineData("indeterminate", "Indeterminate (the fast-track did not call it) <span class=\"code\">(indeterminate)</span>")]
    [InlineData("<b>other</b>", "&lt;b&gt;other&lt;/b&gt;")]   // an unknown code as stored, encoded
    public void Patterns_read_as_words_with_their_stored_code(string code, string html) =>
        Assert.Equal(html, PatientReportView.PatternLabel(code).Value);
}
