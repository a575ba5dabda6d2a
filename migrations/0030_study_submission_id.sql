-- The message id of the submission a study was last registered from. Delivery is at least once: a redelivered
-- SubmitStudy (a worker that died after the commit, a retry after a failure past it) carries the same id and is not
-- registered again; a reanalysis redelivered so would otherwise queue every image once more. A new submission, even
-- of the same folder, has a new id.
alter table studies add column last_submission_id uuid;
