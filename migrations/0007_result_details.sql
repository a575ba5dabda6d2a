-- What patient aggregation and the overlays need, recomputable from stored rows alone.
alter table image_metrics add column ungradable_code text;                 -- UngradableReason name; null when gradable
alter table image_metrics add column distal_line real[];                   -- x1, y1, x2, y2 of the distal row in image pixels
alter table image_metrics add column distal_axis_source text;
alter table studies add column model_id bigint references models (id);     -- the model of the latest analysis
create index capillaries_model_idx on capillaries (model_id);

-- jobs doubles as the outbox: a job is committed first, then published; one left unpublished is published again.
alter table jobs add column published_at timestamptz;
create index jobs_unpublished_idx on jobs (enqueued_at) where published_at is null and state in ('enqueued', 'retrying');

-- mask_rle covers this rectangle (left, top, width, height in image pixels): the mask's tight box, which a model's
-- own box (instances/v1) need not equal.
alter table capillaries add column mask_rect integer[];
