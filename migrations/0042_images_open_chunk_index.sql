-- A chunk's open images (queued or processing, owned by it), which every chunk commit asks for under its study's lock:
-- without it the check read every open image of every study, and a large backlog slowed each commit in turn.
create index if not exists images_open_chunk_idx on images (chunk_job_id) where state in ('queued', 'processing');
