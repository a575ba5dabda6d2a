namespace NfcPipeline.Dashboard.Tests;

/// <summary>What `nfc` prints keeps passwords out: a connection string or broker address in the wrong place, or malformed.</summary>
public sealed partial class OfflineCliTests
{
    [Fact]
    public async Task A_password_given_where_it_does_not_belong_is_not_echoed()
    {
        // A connection string or broker address left without its flag came back whole in the parse error.
        var misplaced = await NfcProcess.RunAsync("migrate", "Host=db;Password=s3cret;Username=nfc");
        Assert.Equal(2, misplaced.Code);
        Assert.Contains("Password=***", misplaced.Err);
        var uri = await NfcProcess.RunAsync("migrate", "amqp://nfc:s3cret@127.0.0.1:5672/");
        Assert.Contains("amqp://nfc:***@", uri.Err);
        // An unquoted ';' in a password: Npgsql's reason would quote the rest of it as a keyword.
        var malformed = await NfcProcess.RunAsync("migrate", "--connection", "Host=127.0.0.1;Port=1;Password=ab;s3cret=x");
        Assert.Equal(2, malformed.Code);
        Assert.Contains("the connection string is malformed (a misspelt keyword, or a ';' in the password", malformed.Err);
        var semicolon = await NfcProcess.RunAsync("migrate", "Host=db;Password=ab;s3cret=x");
        // A misspelt keyword beside a password is still named.
        var typo = await NfcProcess.RunAsync("migrate", "--connection", "Hostt=127.0.0.1;Password=s3cret");
        Assert.Contains("the connection string is malformed: ", typo.Err);
        Assert.Contains("hostt", typo.Err, StringComparison.OrdinalIgnoreCase);
        foreach (var run in new[] { misplaced, uri, malformed, semicolon, typo }) Assert.DoesNotContain("s3cret", run.Err);

        // And the dashboard password hash's iterations are bounded: more would make every sign-in that slow.
        var slow = await NfcProcess.RunWithInputAsync("s3cret pass\n", "hash-password", "--iterations", "20000000");
        Assert.Equal(2, slow.Code);
        Assert.Contains("--iterations must be 100000 to 10000000", slow.Err);
    }
}
