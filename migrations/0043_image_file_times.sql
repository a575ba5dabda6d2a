-- A file's modification time as registration read it (.NET ticks, UTC, from the open file): a resubmission reuses the
-- hash and header of a file whose size and time are unchanged instead of reading every file of the study again.
-- Null where unknown: rows from before, files unread at registration, files that changed while they were hashed.
alter table images add column if not exists file_mtime_ticks bigint;
