-- How long a worker counts as alive without a heartbeat: four of its own heartbeat intervals. A redelivery judged the
-- worker holding its chunk by the redelivering worker's interval, so a live worker beating every minute looked dead to
-- one beating every 10 seconds, and its chunk was counted as abandoned. Null for workers that predate this column.
alter table workers add column if not exists alive_within interval;
