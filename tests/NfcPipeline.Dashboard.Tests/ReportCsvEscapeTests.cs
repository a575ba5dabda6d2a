using NfcPipeline.Storage.Reporting;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>RFC 4180 quoting, and cells a spreadsheet would run as a formula (codes and file names come from folders).</summary>
public class ReportCsvEscapeTests
{
    [Theory]
    [InlineData("P01", "P01")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("two\nlines", "\"two\nlines\"")]
    [InlineData("cr\rlf", "\"cr\rlf\"")]
    [InlineData("=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\"")]
    [InlineData("+1 555", "'+1 555")]
    [InlineData("@SUM(A1)", "'@SUM(A1)")]
    [InlineData("-1.5", "-1.5")]   // a number stays a number
    [InlineData("-1e-3", "-1e-3")]
    [InlineData("-x", "'-x")]
    [InlineData("", "")]
    [InlineData(null, "")]
    public void Cells_are_quoted_when_needed_and_formulas_defused(string? cell, string written) =>
        Assert.Equal(written, ReportCsv.Escape(cell));
}
