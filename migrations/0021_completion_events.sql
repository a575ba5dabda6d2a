-- Completion events (PatientCompleted, StudyCompleted) as an outbox: written in the transaction that completes the
-- patient or study, then published and stamped. One whose publish failed after that commit is published by a
-- worker's outbox pass, so each event goes out at least once (it was at most once).
create table completion_events (
    id bigserial primary key,
    kind text not null check (kind in ('patient_completed', 'study_completed')),
    study_id bigint not null references studies (id) on delete cascade,
    payload jsonb not null,
    created_at timestamptz not null default clock_timestamp(),
    publish_claimed_at timestamptz,
    published_at timestamptz
);
create index completion_events_unpublished on completion_events (created_at) where published_at is null;
