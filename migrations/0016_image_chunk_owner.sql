-- The chunk an image is queued in: chunk creation and a requeue set it, and a chunk writes (or fails) only the images
-- it owns. A resubmission that queues an image again in a later chunk moves it there, so an older chunk finishing late
-- leaves it alone; a requeued older chunk takes its images back.
alter table images add column chunk_job_id bigint;
update images i set chunk_job_id = latest.job
from (select distinct on (e::bigint) e::bigint as image_id, j.id as job
      from jobs j, jsonb_array_elements_text(j.payload -> 'image_ids') e
      where j.kind = 'analyze_chunk' and j.state <> 'deleted'
      order by e::bigint, j.id desc) latest
where i.id = latest.image_id;
