using System.CommandLine;
using NfcPipeline.Contracts;
using NfcPipeline.Intake;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Storage.Reporting;
using Npgsql;
using Spectre.Console;
using NfcPipeline.Core.Domain;

namespace NfcPipeline.Cli.Commands;

/// <summary>`nfc enqueue FOLDER`: publishes SubmitStudy for a study folder under the share; --wait follows its progress.</summary>
internal static class EnqueueCommand
{
    public static Command Create()
    {
        var folder = new Argument<string>("folder") { Description = "The study folder (absolute, or relative to the current directory or the share)." };
        var share = new Option<string?>("--share") { Description = "The share root. Default: NFC_SHARE_ROOT." };
        var studyId = new Option<string?>("--study-id") { Description = "The study id. Default: study.json's study_id, else the folder name (as the share watcher)." };
        var umPerPx = CommonOptions.Decimal("--um-per-px", "Calibration in µm per pixel (overrides the manifest).");
        var reanalyze = new Option<bool>("--reanalyze") { Description = "Analyse again even where results exist." };
        var wait = new Option<bool>("--wait") { Description = "Show progress until the study is completed." };
        var registerTimeout = CommonOptions.Duration("--register-timeout",
            "With --wait: give up (exit 1) when no worker has registered the study within this long (hh:mm:ss)", TimeSpan.FromMinutes(5));
        var connection = CommonOptions.Connection();
        var rabbit = CliBus.RabbitOption();
        var command = new Command("enqueue", "Submit a study folder for analysis.") { folder, share, studyId, umPerPx, reanalyze, wait, registerTimeout, connection, rabbit };
        command.SetAction(async (parse, ct) =>
        {
            var root = parse.GetValue(share) ?? Environment.GetEnvironmentVariable("NFC_SHARE_ROOT");
            if (string.IsNullOrWhiteSpace(root))
                return Fail("give the share root with --share or NFC_SHARE_ROOT.", NfcCommandLine.Usage);
            if (parse.GetValue(umPerPx) is { } um && !Calibration.IsPlausible(um))
                return Fail($"--um-per-px must be {Calibration.PlausibleRange}.", NfcCommandLine.Usage);
            if (!parse.GetValue(wait) && parse.GetResult(registerTimeout) is { Implicit: false })
                return Fail("--register-timeout goes with --wait only.", NfcCommandLine.Usage);
            var given = parse.GetValue(folder)!;
            var rootFull = Path.GetFullPath(root);
            var candidate = Path.IsPathRooted(given) || Directory.Exists(given) ? Path.GetFullPath(given) : Path.Combine(rootFull, given);
            var relative = Path.GetRelativePath(rootFull, candidate).Replace('\\', '/');
            // A share root reached through a link, and the folder by its real path (the current directory is one):
            // read against the root's real path. Only the folders above it are resolved: the study folder may itself be
            // a link in the share, submitted under its own name.
            var trimmed = candidate.TrimEnd('/');
            if ((relative == ".." || relative.StartsWith("../", StringComparison.Ordinal)) && Directory.Exists(candidate)
                && Path.GetDirectoryName(trimmed) is { } parent
                && Path.GetRelativePath(SharePaths.RealPath(rootFull), Path.Combine(SharePaths.RealPath(parent), Path.GetFileName(trimmed)))
                    .Replace('\\', '/') is var real
                && real != ".." && !real.StartsWith("../", StringComparison.Ordinal))
                relative = real;
            // "S1/" (a shell's completion) is the folder S1, as the worker notes a refusal of it: --wait finds that note.
            if (relative.Length > 1) relative = relative.TrimEnd('/');
            // As the worker reads it: a file, a folder without images or with unreadable folders, a link out of the
            // share or an unusable manifest would be refused there, after this command had reported success.
            try { SharePaths.ResolveUnder(rootFull, relative); }
            catch (StudyLayoutException ex) { return Fail($"the folder must be inside the share {rootFull}: {ex.Message}", NfcCommandLine.Usage); }
            // As the worker reads it: a file, a folder without images or with unreadable folders, or an unusable manifest
            // would be refused there, after this command had reported success (and --wait would wait for ever).
            var (inventory, folderProblem) = StudyLayout.ReadForSubmission(rootFull, relative, parse.GetValue(studyId));
            if (folderProblem is not null) return Fail($"{relative} cannot be submitted: {folderProblem}", NfcCommandLine.Usage);
            var manifestId = inventory!.Manifest?.StudyId;
            var message = new SubmitStudy
            {
                StudyId = parse.GetValue(studyId) ?? manifestId ?? Path.GetFileName(candidate.TrimEnd('/')),
                FolderPath = relative, MicrometresPerPixel = parse.GetValue(umPerPx), Reanalyze = parse.GetValue(reanalyze),
            };
            // The worker would refuse these; refused there, the submission would look accepted here.
            if (StudyIds.Problem(message.StudyId) is { } idProblem)
                return Fail($"the study id (the folder's name, study.json's study_id or --study-id) cannot be used: {idProblem} Give another with --study-id.", NfcCommandLine.Usage);
            WarnOfOverrides(message, inventory.Manifest, Path.GetFileName(candidate.TrimEnd('/')), parse.GetValue(studyId) is not null);
            string sourcePath;
            try { sourcePath = SharePaths.StudySourcePath(rootFull, relative); }
            catch (StudyLayoutException ex) { return Fail($"{relative} cannot be submitted: {ex.Message}", NfcCommandLine.Usage); }
            await using var dataSource = NpgsqlDataSource.Create(CommonOptions.ResolveConnection(parse.GetValue(connection)));
            var queries = new ReportingQueries(dataSource);
            // A resubmitted study shows its previous run's state until the worker registers it again, and that run may
            // finish in between: wait for a registration stamped after publishing, by the database's clock.
            DateTime publishedAfter = DateTime.MinValue;
            try
            {
                var registered = await queries.StudyByExternalIdAsync(message.StudyId, ct);
                if (registered is not null && StudyIdentity.Conflict(message.StudyId, registered.SourcePath, sourcePath,
                        registered.SourcePath is { } from && SharePaths.FolderGone(rootFull, from)) is { } conflict)
                    return Fail(conflict, NfcCommandLine.Usage);
                if (registered is null && await queries.LookalikeStudyAsync(message.StudyId, ct) is { } lookalike)
                    return Fail(StudyIdentity.LookalikeConflict(message.StudyId, lookalike), NfcCommandLine.Usage);
                if (await queries.OtherStudyOfFolderAsync(sourcePath, message.StudyId, ct) is { } holder)
                    return Fail(StudyIdentity.FolderConflict(sourcePath, holder, message.StudyId), NfcCommandLine.Usage);
                if (parse.GetValue(wait)) publishedAfter = await queries.DatabaseNowAsync(ct);
            }
            catch (NpgsqlException ex) when (!parse.GetValue(wait))
            {
                Console.Error.WriteLine($"nfc enqueue: the study id was not checked against the database ({ex.Message}); the worker checks it.");
            }
            catch (NpgsqlException ex) { return Fail($"--wait needs the database: {DatabaseErrors.Describe(ex)}", NfcCommandLine.Fatal); }
            try
            {
                await using (var bus = await CliBus.StartAsync(parse.GetValue(rabbit), ct))
                    await bus.PublishAsync(message, ct);
            }
            // A cancellation of our own (Ctrl-C) is no broker failure: it goes on to the interrupted exit.
            catch (Exception ex) when (ex is MassTransit.RabbitMqConnectionException or MassTransit.MassTransitException
                                       || ex is OperationCanceledException && !ct.IsCancellationRequested)
            {
                return Fail(ex is NfcPipeline.Dashboard.Hosting.BrokerUnavailableException { NoQueue: true }
                    ? $"not submitted: {ex.Message}." : $"cannot publish to RabbitMQ: {ex.Message}. Is it running (ops/services.sh up)?", NfcCommandLine.Fatal);
            }
            Console.WriteLine($"Submitted study {message.StudyId} ({relative}).");
            if (!parse.GetValue(wait)) return NfcCommandLine.Success;

            string state;
            string? refusal;
            try { (state, refusal) = await WaitAsync(queries, message.StudyId, relative, publishedAfter, parse.GetValue(registerTimeout), ct); }
            catch (NpgsqlException ex) { return Fail($"lost the database while waiting: {DatabaseErrors.Describe(ex)}", NfcCommandLine.Fatal); }
            if (refusal is not null) return Fail($"the worker refused to register the study: {refusal}", NfcCommandLine.Fatal);
            if (state == NotRegistered)
                return Fail($"no worker registered the study within {parse.GetValue(registerTimeout)}: is a worker running on this share and broker? " +
                    "A refused submission is in its log, on the dashboard's Share page and in the submit-study_error queue.", NfcCommandLine.Fatal);
            Console.WriteLine($"Study {message.StudyId}: {state}.");
            // As the README's exit codes: images that failed, each with its reason, still make a finished study.
            return state is "completed" or "completed_with_errors" ? NfcCommandLine.Success : NfcCommandLine.Fatal;
        });
        return command;
    }

    /// <summary>
    /// A share watcher submits a changed folder again with study.json's values: an id or calibration given here that
    /// differs from them lasts only until then (a second study from the folder, or its images measured again).
    /// </summary>
    private static void WarnOfOverrides(SubmitStudy message, StudyManifest? manifest, string folderName, bool idGiven)
    {
        var watcherId = manifest?.StudyId ?? folderName;
        if (idGiven && message.StudyId != watcherId)
            Console.Error.WriteLine($"nfc enqueue: note: --study-id '{message.StudyId}' differs from the id a share watcher gives this folder " +
                $"('{watcherId}'); if one watches it, it submits the folder as that study when the folder changes. Put the id in study.json to keep it.");
        if (message.MicrometresPerPixel is { } um && manifest?.MicrometresPerPixel != um)
            Console.Error.WriteLine($"nfc enqueue: note: --um-per-px {um} overrides study.json ({manifest?.MicrometresPerPixel?.ToString() ?? "no calibration"}) " +
                "for this submission only; a share watcher submits the folder again with study.json's value when the folder changes, and its " +
                "images are measured again at it. Put the calibration in study.json to keep it.");
    }

    private const string NotRegistered = "";

    /// <summary>The study's final state, or NotRegistered with the worker's refusal (null when none came in time).</summary>
    private static async Task<(string State, string? Refusal)> WaitAsync(ReportingQueries queries, string studyId, string folder, DateTime publishedAfter,
        TimeSpan registerTimeout, CancellationToken ct)
    {
        var finalState = NotRegistered;
        string? refusal = null;
        var waiting = System.Diagnostics.Stopwatch.StartNew();
        await AnsiConsole.Progress().AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async progress =>
            {
                // A refused submission (see the worker's log and the submit-study_error queue) never registers.
                var task = progress.AddTask("waiting for the worker to register the study", maxValue: 1);
                while (!ct.IsCancellationRequested)
                {
                    var s = await queries.StudyByExternalIdAsync(studyId, ct);
                    if (s is not null && s.RegisteredAt >= publishedAfter)
                    {
                        task.MaxValue = Math.Max(1, s.Images);
                        task.Value = s.Succeeded + s.Failed;
                        task.Description = $"{s.State}: {s.Succeeded} done, {s.Failed} failed of {s.Images}";
                        if (s.IsFinished) { finalState = s.State; task.StopTask(); return; }
                    }
                    // Refused (the share page's note): said at once, with the worker's reason, not after the timeout.
                    else if (await queries.RegistrationRefusalAsync(folder, studyId, publishedAfter, ct) is { } refused) { refusal = refused.Reason; task.StopTask(); return; }
                    // Not registered: no worker would leave a script waiting for ever.
                    else if (waiting.Elapsed > registerTimeout) { task.StopTask(); return; }
                    await Task.Delay(TimeSpan.FromSeconds(1), ct);
                }
            });
        // Interrupted between two polls, the loop ended as if it had waited its time out: an interruption, not a timeout.
        ct.ThrowIfCancellationRequested();
        return (finalState, refusal);
    }

    private static int Fail(string message, int code)
    {
        Console.Error.WriteLine($"nfc enqueue: {message}");
        return code;
    }
}
