-- The watched share's scans (the dashboard's "recurring" page), and lookups the job pages need.

create table share_scans (
    id              bigint generated always as identity primary key,
    root            text not null,
    worker_id       text,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz,
    folders_seen    integer not null default 0,
    studies_found   integer not null default 0,   -- ready and submitted in this scan
    error           text
);
create index share_scans_started_idx on share_scans (started_at desc);

-- One row per watched root: its schedule and a trigger-now flag the dashboard sets.
create table share_watch (
    root                text primary key,
    interval_seconds    integer not null,
    last_scan_at        timestamptz,
    next_scan_at        timestamptz,
    scan_requested_at   timestamptz
);

-- Studies found in the share, so a settled folder is submitted once even across restarts.
create table share_submissions (
    root            text not null,
    folder          text not null,
    fingerprint     text not null,                  -- names, sizes and times of its files when submitted
    study_id        text not null,
    submitted_at    timestamptz not null default now(),
    primary key (root, folder)
);

create index jobs_kind_state_idx on jobs (kind, state);
create index images_state_idx on images (state);
