using System.Text.Json;
using Dapper;
using NfcPipeline.Contracts;
using Npgsql;

namespace NfcPipeline.Storage.Pipeline;

/// <summary>
/// A completion event stored with the transition it announces, claimed by the caller that made it
/// (<see cref="Claim"/>, completion_events.publish_claimed_at): only that claim's holder stamps it published.
/// </summary>
public sealed record PendingEvent(long Id, DateTime Claim, object Message);

/// <summary>
/// The completion events' outbox (migration 0021; StudySubmitted too, migration 0038): inserted in the completing (or
/// registering) transaction, published after its commit and stamped; those a failed publish or a dead worker left behind are claimed by an outbox pass and published again.
/// </summary>
public sealed class CompletionEventStore(NpgsqlDataSource db)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Stores the event on the completing transaction, claimed by its caller.</summary>
    internal static async Task<PendingEvent> InsertAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long studyId, object message, CancellationToken ct)
    {
        var row = await connection.QuerySingleAsync<(long Id, DateTime Claim)>(new CommandDefinition("""
            insert into completion_events (kind, study_id, payload, publish_claimed_at)
            values (@Kind, @StudyId, @Payload::jsonb, clock_timestamp()) returning id, publish_claimed_at
            """, new { Kind = KindOf(message), StudyId = studyId, Payload = JsonSerializer.Serialize(message, message.GetType(), Json) },
            tx, cancellationToken: ct));
        return new PendingEvent(row.Id, row.Claim, message);
    }

    /// <summary>Stamps events published, each only while it is still under the claim it was published with.</summary>
    public async Task MarkPublishedAsync(IReadOnlyCollection<PendingEvent> events, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("""
            update completion_events e set published_at = clock_timestamp(), publish_claimed_at = null
            from unnest(@Ids, @Claims) as c(id, claim) where e.id = c.id and e.publish_claimed_at = c.claim
            """, ClaimArguments(events), cancellationToken: ct));
    }

    /// <summary>Gives up the claims of events whose publish failed, so the next outbox pass takes them.</summary>
    public async Task ReleaseAsync(IReadOnlyCollection<PendingEvent> events, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("""
            update completion_events e set publish_claimed_at = null
            from unnest(@Ids, @Claims) as c(id, claim) where e.id = c.id and e.published_at is null and e.publish_claimed_at = c.claim
            """, ClaimArguments(events), cancellationToken: ct));
    }

    /// <summary>
    /// Claims unpublished events older than <paramref name="olderThan"/> whose claim is free or older than
    /// <paramref name="claimLease"/> (its holder died between commit and publish), oldest first.
    /// </summary>
    public async Task<IReadOnlyList<PendingEvent>> ClaimUnpublishedAsync(TimeSpan olderThan, TimeSpan claimLease, int limit, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<(long Id, string Kind, string Payload, DateTime Claim)>(new CommandDefinition("""
            update completion_events set publish_claimed_at = clock_timestamp() where id in (
                select id from completion_events
                where published_at is null and created_at < now() - @Age
                  and (publish_claimed_at is null or publish_claimed_at < now() - @Lease)
                order by created_at, id limit @Limit for update skip locked)
            returning id, kind, payload::text, publish_claimed_at
            """, new { Age = olderThan, Lease = claimLease, Limit = limit }, cancellationToken: ct));
        // A row this version cannot read (a kind a newer worker stored, a damaged payload) keeps its claim and is left out:
        // it must neither stop the pass nor be marked published; once its lease lapses a worker that knows it takes it.
        return rows.OrderBy(r => r.Id).Select(r => Read(r.Kind, r.Payload) is { } message ? new PendingEvent(r.Id, r.Claim, message) : null)
            .OfType<PendingEvent>().ToList();
    }

    private static object? Read(string kind, string payload)
    {
        try
        {
            return kind switch
            {
                PatientKind => JsonSerializer.Deserialize<PatientCompleted>(payload, Json),
                StudyKind => JsonSerializer.Deserialize<StudyCompleted>(payload, Json),
                SubmittedKind => JsonSerializer.Deserialize<StudySubmitted>(payload, Json),
                _ => null,
            };
        }
        catch (JsonException) { return null; }
    }

    /// <summary>Deletes events published before <paramref name="keep"/> ago: the outbox needs none of them; returns how many.</summary>
    public async Task<int> TrimPublishedAsync(TimeSpan keep, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition(
            "delete from completion_events where published_at < now() - @Keep", new { Keep = keep }, cancellationToken: ct));
    }

    private const string PatientKind = "patient_completed";
    private const string StudyKind = "study_completed";
    private const string SubmittedKind = "study_submitted";

    private static string KindOf(object message) => message switch
    {
        PatientCompleted => PatientKind,
        StudyCompleted => StudyKind,
        StudySubmitted => SubmittedKind,
        _ => throw new ArgumentException($"{message.GetType().Name} is no completion event.", nameof(message)),
    };

    private static object ClaimArguments(IReadOnlyCollection<PendingEvent> events) =>
        new { Ids = events.Select(e => e.Id).ToArray(), Claims = events.Select(e => e.Claim).ToArray() };
}
