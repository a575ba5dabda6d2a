-- Studies, patients and images as registered from the share or a submit message.
-- Names of studies and patients come from folder names; they are stored, never logged.

create table studies (
    id              bigint generated always as identity primary key,
    external_id     text not null unique,             -- the manifest's study id, or the folder name
    source_path     text,                             -- relative to the share root; null for message submissions
    um_per_px       double precision check (um_per_px is null or um_per_px > 0),
    device          text,
    manifest        jsonb not null default '{}'::jsonb,
    content_sha256  bytea check (content_sha256 is null or length(content_sha256) = 32),
    state           text not null default 'registered'
                    check (state in ('registered', 'processing', 'completed', 'completed_with_errors', 'failed')),
    image_count     integer not null default 0,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    completed_at    timestamptz
);
create index studies_state_idx on studies (state, created_at desc);

create table patients (
    id              bigint generated always as identity primary key,
    study_id        bigint not null references studies (id) on delete cascade,
    code            text not null,                    -- folder name or manifest mapping
    state           text not null default 'pending'
                    check (state in ('pending', 'processing', 'completed', 'completed_with_errors')),
    created_at      timestamptz not null default now(),
    completed_at    timestamptz,
    unique (study_id, code)
);

create table images (
    id              bigint generated always as identity primary key,
    study_id        bigint not null references studies (id) on delete cascade,
    patient_id      bigint not null references patients (id) on delete cascade,
    finger          text,                             -- normalised, e.g. L2..L5, R2..R5
    field           text not null,
    rel_path        text not null,                    -- relative to the study folder
    sha256          bytea not null check (length(sha256) = 32),
    size_bytes      bigint not null check (size_bytes >= 0),
    width           integer,
    height          integer,
    format          text,
    state           text not null default 'pending'
                    check (state in ('pending', 'queued', 'processing', 'succeeded', 'failed')),
    error_code      text,
    error           text,
    attempts        integer not null default 0,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (study_id, rel_path)
);
create index images_patient_idx on images (patient_id);
create index images_sha_idx on images (sha256);
create index images_study_state_idx on images (study_id, state);
