-- A chunk whose worker process dies while analysing it (a native crash, the kernel's OOM killer) is redelivered to
-- the next worker, which may die on it too. Starts that found the job still processing under another worker are
-- counted; past Worker:MaxAbandonedStarts the chunk is not started again and its images fail with the reason.
alter table jobs add column abandoned_starts integer not null default 0;
