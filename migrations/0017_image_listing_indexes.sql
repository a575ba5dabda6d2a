-- A study's image listing (dashboard study and patient pages, the API) pages in the order
-- patient, finger, field, id; these let each page read its rows from an index instead of sorting the whole study.
-- The state-filtered listing's index also serves everything (study_id, state) did.
create index images_study_listing_idx on images (study_id, patient_id, (coalesce(finger, '')), field, id);
create index images_study_state_listing_idx on images (study_id, state, patient_id, (coalesce(finger, '')), field, id);
drop index images_study_state_idx;
-- Every query on capillaries starts from the image's content hash (the primary key); this one only slowed each COPY.
drop index capillaries_model_idx;
