-- Models and analysis results. A result is identified by (image content hash, model hash), so re-submitting a
-- study never duplicates rows and a new model keeps both result sets.

create table models (
    id              bigint generated always as identity primary key,
    sha256          bytea not null unique check (length(sha256) = 32),
    name            text not null,
    version         text,
    contract        text not null,                    -- e.g. dense/v1, instances/v1
    metadata        jsonb not null default '{}'::jsonb,
    first_used_at   timestamptz not null default now()
);

-- One row per analysed (image content, model): the per-image measurements.
create table image_metrics (
    image_sha256        bytea not null check (length(image_sha256) = 32),
    model_id            bigint not null references models (id),
    um_per_px           double precision not null check (um_per_px > 0),
    width               integer not null,
    height              integer not null,
    instance_count      integer not null,
    distal_count        integer,
    density_per_mm      double precision,
    row_length_mm       double precision,
    hemorrhage_count    integer not null default 0,
    gradable            boolean not null,
    ungradable_reason   text,
    quality             text,
    settings            jsonb not null default '{}'::jsonb,  -- the measurement options that produced it
    analysed_at         timestamptz not null default now(),
    primary key (image_sha256, model_id)
);

-- One row per capillary instance; bulk-loaded with binary COPY.
create table capillaries (
    image_sha256        bytea not null,
    model_id            bigint not null,
    instance_index      integer not null,
    class_name          text not null,
    category            text not null check (category in ('normal', 'abnormal', 'hemorrhage', 'ungradable')),
    score               real not null,
    box                 real[] not null,                     -- x1, y1, x2, y2 in image pixels
    mask_rle            integer[] not null,                  -- row-major run lengths over the box, starting with background
    mask_area           integer not null,
    keypoints           real[] not null,                     -- x, y, confidence × 8, ANFC order
    apical_um           double precision,
    arterial_um         double precision,
    venous_um           double precision,
    limb_length_um      double precision,
    loop_height_um      double precision,
    loop_width_um       double precision,
    dilated             boolean not null default false,
    giant               boolean not null default false,
    distal              boolean not null default false,
    primary key (image_sha256, model_id, instance_index),
    foreign key (image_sha256, model_id) references image_metrics (image_sha256, model_id) on delete cascade
);

-- Per-patient aggregation for one model; recomputed idempotently when the patient's last image is done.
create table patient_metrics (
    patient_id          bigint not null references patients (id) on delete cascade,
    model_id            bigint not null references models (id),
    gradable_fields     integer not null,
    ungradable_fields   integer not null,
    density_mean        double precision,
    density_median      double precision,
    density_sd          double precision,
    capillary_count     integer not null,
    dilated_count       integer not null,
    giant_count         integer not null,
    abnormal_count      integer not null,
    hemorrhage_count    integer not null,
    pattern             text not null,
    rule_trace          jsonb not null,
    morphology          jsonb not null,
    diameters           jsonb not null,
    per_finger          jsonb not null default '{}'::jsonb,
    settings            jsonb not null default '{}'::jsonb,
    computed_at         timestamptz not null default now(),
    primary key (patient_id, model_id)
);
