-- Deleting a study cascades to its submissions: without an index on study_id each delete scanned them all.
create index study_submissions_study on study_submissions (study_id);
