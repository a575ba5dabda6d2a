using System.Diagnostics;
using Microsoft.Extensions.Options;
using NfcPipeline.Core.Concurrency;
using NfcPipeline.Dashboard.Hosting;

namespace NfcPipeline.Dashboard.Api;

/// <summary>
/// The share look-ups a submission waits for (its folder's walk, its paths resolved): at most
/// Dashboard:MaxConcurrentShareChecks at once, each waited for at most Dashboard:SubmissionCheckTimeout. A hung mount (a
/// hard NFS mount whose server is gone) held a request thread per submission for as long as it hung, and a script's
/// retries would have taken the thread pool; a look-up the share still holds keeps its slot until it returns, so such a
/// mount takes no more threads than slots.
/// </summary>
public sealed class ShareCheckGate(IOptions<DashboardOptions> options)
{
    private readonly SemaphoreSlim _slots = new(options.Value.MaxConcurrentShareChecks, options.Value.MaxConcurrentShareChecks);

    /// <summary>
    /// What a look-up answered; <c>Answered</c> false when no slot came free, or the share did not answer, within
    /// Dashboard:SubmissionCheckTimeout counted from <paramref name="requestStarted"/> (one budget for all of a request's
    /// look-ups, slot waits included; from now without it).
    /// </summary>
    public async Task<(bool Answered, T? Result)> RunAsync<T>(Func<T> check, CancellationToken ct, Stopwatch? requestStarted = null)
    {
        var clock = requestStarted ?? Stopwatch.StartNew();
        TimeSpan Left() => options.Value.SubmissionCheckTimeout - clock.Elapsed;
        var wait = Left();
        if (wait <= TimeSpan.Zero || !await _slots.WaitAsync(wait, ct)) return (false, default);
        Task<T>? running = null;
        try
        {
            running = Task.Run(check, CancellationToken.None);
            var left = Left();
            return (true, await running.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, ct));
        }
        catch (TimeoutException) { return (false, default); }
        finally { SemaphoreTurn.ReleaseWhenDone(_slots, running); }
    }

    /// <summary>The answer when <see cref="RunAsync{T}"/> gave up: 503, to be tried again.</summary>
    public static IResult NotAnswered(HttpContext context)
    {
        context.Response.Headers.RetryAfter = "30";
        return Results.Problem("The share did not answer within Dashboard:SubmissionCheckTimeout (a hung network mount, or a folder too " +
            "large to check in time), or too many submissions are being checked at once; try again shortly.", statusCode: 503,
            title: "Service unavailable");
    }
}
