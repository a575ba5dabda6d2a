-- When the worker last registered the study (a submission taken in). updated_at also moves on completion, so a client
-- waiting for its own submission could not tell an earlier run's completion from it; registered_at can.
alter table studies add column registered_at timestamptz;
update studies set registered_at = created_at;
alter table studies alter column registered_at set default now(), alter column registered_at set not null;
