-- Job state lives here (our own tables, in place of Hangfire's). RabbitMQ carries the work; Postgres is the one
-- source of truth for what was asked, what ran, and what failed.

create table jobs (
    id              bigint generated always as identity primary key,
    kind            text not null check (kind in ('analyze_chunk', 'aggregate_patient', 'scan_share', 'register_study')),
    study_id        bigint references studies (id) on delete cascade,
    payload         jsonb not null default '{}'::jsonb,
    state           text not null default 'enqueued'
                    check (state in ('enqueued', 'processing', 'succeeded', 'failed', 'retrying', 'deleted')),
    attempts        integer not null default 0,
    max_attempts    integer not null default 5,
    last_error      text,
    worker_id       text,
    created_at      timestamptz not null default now(),
    enqueued_at     timestamptz not null default now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz not null default now()
);
create index jobs_state_idx on jobs (state, created_at desc);
create index jobs_study_idx on jobs (study_id);

create table workers (
    id                  text primary key,                 -- host:pid:instance
    host                text not null,
    pid                 integer not null,
    device              text,
    provider            text,
    model_sha256        bytea,
    started_at          timestamptz not null default now(),
    heartbeat_at        timestamptz not null default now(),
    images_processed    bigint not null default 0,
    last_batch          jsonb,
    state               text not null default 'running' check (state in ('running', 'stopping', 'stopped'))
);
create index workers_heartbeat_idx on workers (heartbeat_at desc);
