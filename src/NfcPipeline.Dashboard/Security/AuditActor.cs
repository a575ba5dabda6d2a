namespace NfcPipeline.Dashboard.Security;

/// <summary>How the audit log names whoever made a request: the user or API key, and how they signed in.</summary>
public static class AuditActor
{
    public static string Of(HttpContext context) =>
        $"dashboard:{context.User.Identity?.Name ?? "anonymous"} ({context.User.Identity?.AuthenticationType ?? "none"})";
}
