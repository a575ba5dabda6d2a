-- The study id a refused registration was submitted under: `nfc enqueue --wait` reports a refusal of its own
-- submission, not one of another id submitted from the same folder (the share watcher's, with study.json's id).
alter table share_folder_notes add column study_id text;
