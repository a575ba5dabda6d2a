-- Indexes for the dashboard and the API: keyset paging of jobs per state (with kind or study filters), the
-- overview's recent-throughput and failures-per-hour counts, and the studies list newest first.

create index jobs_state_id_idx on jobs (state, id desc);
create index jobs_state_kind_id_idx on jobs (state, kind, id desc);
create index jobs_study_state_id_idx on jobs (study_id, state, id desc);
create index jobs_state_updated_idx on jobs (state, updated_at desc);
create index images_updated_idx on images (updated_at desc);
create index images_patient_state_idx on images (patient_id, state);
create index patient_metrics_patient_computed_idx on patient_metrics (patient_id, computed_at desc);
