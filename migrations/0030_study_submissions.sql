-- The message ids of the submissions a study was registered from. Delivery is at least once: a redelivered SubmitStudy
-- (a worker that died after the commit, a retry after a failure past it, a message moved back from its error queue)
-- carries the same id and is not registered again, even after later submissions; a reanalysis redelivered so would
-- otherwise queue every image once more. A new submission, even of the same folder, has a new id.
create table study_submissions (
    study_id        bigint not null references studies (id) on delete cascade,
    message_id      uuid not null,
    registered_at   timestamptz not null default now(),
    primary key (message_id, study_id)   -- looked up by message id before a delivery reads the study's files
);
