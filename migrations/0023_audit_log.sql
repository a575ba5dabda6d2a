-- Operator actions that remove or redo work: a study deleted, failed jobs requeued or deleted. Who (the dashboard
-- user or API key, or the CLI's OS user), when, what, and the counts and ids involved. Kept when the study goes:
-- the entry is the record of its removal.
create table audit_log (
    id bigserial primary key,
    at timestamptz not null default now(),
    actor text not null,
    action text not null check (action in ('delete_study', 'requeue_jobs', 'delete_jobs')),
    subject text not null,
    details jsonb not null default '{}'
);
create index audit_log_at on audit_log (at desc, id desc);
