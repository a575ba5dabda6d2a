using System.CommandLine;
using NfcPipeline.Storage.Reporting;
using Npgsql;

namespace NfcPipeline.Cli.Commands;

/// <summary>
/// `nfc requeue JOB`, `nfc requeue --failed [--kind K] [--study S]` or `nfc requeue --stalled [--older-than T]`: puts
/// failed jobs, or chunk jobs stalled without a message, back to work.
/// </summary>
internal static class RequeueCommand
{
    public static Command Create()
    {
        var job = new Argument<long?>("job") { Description = "The id of a failed job.", Arity = ArgumentArity.ZeroOrOne };
        var failed = new Option<bool>("--failed") { Description = "Requeue failed jobs, at most 20000 a call (narrow with --kind and --study)." };
        var kind = new Option<string?>("--kind") { Description = "With --failed: only jobs of this kind." };
        var study = new Option<string?>("--study") { Description = "With --failed: only jobs of this study id." };
        var stalled = new Option<bool>("--stalled")
        {
            Description = "Requeue chunk jobs enqueued, retrying or processing but untouched for --older-than (their message lost: a purged queue, a lost broker node; a job left processing comes back by itself after Worker:OrphanedChunkAfter or Worker:AbandonedChunkAfter).",
        };
        var olderThan = CommonOptions.Duration("--older-than", "With --stalled: untouched for this long (hh:mm:ss)", TimeSpan.FromHours(1));
        var connection = CommonOptions.Connection();
        var rabbit = CliBus.RabbitOption();
        var command = new Command("requeue", "Requeue failed jobs, or stalled chunk jobs: state 'enqueued', error cleared, message published again.")
            { job, failed, kind, study, stalled, olderThan, connection, rabbit };
        command.SetAction(async (parse, ct) =>
        {
            var jobId = parse.GetValue(job);
            if ((jobId is null ? 0 : 1) + (parse.GetValue(failed) ? 1 : 0) + (parse.GetValue(stalled) ? 1 : 0) != 1)
            {
                Console.Error.WriteLine("nfc requeue: give one of a job id, --failed or --stalled.");
                return NfcCommandLine.Usage;
            }
            // A filter the chosen form does not take would be dropped: `--stalled --study S` requeued every study's chunks.
            if (!parse.GetValue(failed) && (parse.GetValue(kind) is not null || parse.GetValue(study) is not null))
            {
                Console.Error.WriteLine("nfc requeue: --kind and --study narrow --failed only.");
                return NfcCommandLine.Usage;
            }
            if (!parse.GetValue(stalled) && parse.GetResult(olderThan) is { Implicit: false })
            {
                Console.Error.WriteLine("nfc requeue: --older-than goes with --stalled only.");
                return NfcCommandLine.Usage;
            }
            if (parse.GetValue(stalled) && !(parse.GetValue(olderThan) >= TimeSpan.FromMinutes(1)))
            {
                Console.Error.WriteLine("nfc requeue: --older-than must be at least 00:01:00 (a running chunk is touched as it starts and finishes).");
                return NfcCommandLine.Usage;
            }
            try
            {
                await using var dataSource = NpgsqlDataSource.Create(CommonOptions.ResolveConnection(parse.GetValue(connection)));
                var admin = new JobAdmin(dataSource);
                // A filter that names nothing is a typo, not "0 jobs to requeue".
                if (parse.GetValue(kind) is { } k && !JobAdmin.Kinds.Contains(k))
                {
                    Console.Error.WriteLine($"nfc requeue: unknown job kind '{k}' (kinds: {string.Join(", ", JobAdmin.Kinds)}).");
                    return NfcCommandLine.Usage;
                }
                if (parse.GetValue(study) is { } s && await new ReportingQueries(dataSource).StudyByExternalIdAsync(s, ct) is null)
                {
                    Console.Error.WriteLine($"nfc requeue: there is no study '{s}' (nfc status lists them).");
                    return NfcCommandLine.Fatal;
                }
                await using var bus = await CliBus.StartAsync(parse.GetValue(rabbit), ct);
                var result = jobId is { } one
                    ? await admin.RequeueAsync([one], AuditLog.CliActor, bus.PublishAsync, ct)
                    : parse.GetValue(stalled)
                    ? await admin.RequeueStalledAsync(parse.GetValue(olderThan), AuditLog.CliActor, bus.PublishAsync, ct)
                    : await admin.RequeueAllFailedAsync(parse.GetValue(kind), parse.GetValue(study), AuditLog.CliActor, bus.PublishAsync, ct);
                Console.WriteLine($"Requeued {result.Requeued.Count} job(s).");
                foreach (var (id, reason) in result.Skipped) Console.WriteLine($"Skipped job {id}: {reason}.");
                if (result.MoreMatched) Console.WriteLine($"More jobs matched than one requeue takes ({JobAdmin.BulkLimit}): run it again for the rest.");
                // The job asked for did not go back to work: a script running `nfc requeue 42 && ...` must know.
                if (jobId is not null && result.Requeued.Count == 0)
                {
                    Console.Error.WriteLine(result.Skipped.Count == 0
                        ? $"nfc requeue: job {jobId} does not exist or is not failed."
                        : $"nfc requeue: job {jobId} was not requeued: {result.Skipped[0].Reason}.");
                    return NfcCommandLine.Fatal;
                }
                return NfcCommandLine.Success;
            }
            catch (NpgsqlException ex)
            {
                Console.Error.WriteLine($"nfc requeue: {DatabaseErrors.Describe(ex)}");
                return NfcCommandLine.Fatal;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // The requeue commits after its publishes: nothing was requeued, and a message already out finds its job as it was.
                Console.Error.WriteLine("nfc requeue: cancelled; nothing was requeued.");
                return NfcCommandLine.Cancelled;
            }
            catch (Exception ex) when (ex is MassTransit.MassTransitException or OperationCanceledException)
            {
                Console.Error.WriteLine($"nfc requeue: cannot publish to RabbitMQ: {ex.Message}");
                return NfcCommandLine.Fatal;
            }
        });
        return command;
    }
}
