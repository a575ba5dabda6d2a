-- Indexes whose columns lead a later, wider index on the same table: every query they served is served by that one
-- (foreign-key checks on delete included), and each was one more index to update on every image state change and
-- job insert.
--   images_patient_idx (patient_id) -> images_patient_state_idx (patient_id, state)
--   jobs_study_idx (study_id)       -> jobs_study_state_id_idx (study_id, state, id desc)
drop index if exists images_patient_idx;
drop index if exists jobs_study_idx;
