-- Results are kept per calibration. Every length depends on the µm per pixel an image is analysed at, so one image in
-- two studies at different calibrations has a result set for each, keyed (image sha256, model, um_per_px), and an image
-- row records the calibration its results are at (result_um_per_px, null until it has results). Before, the second
-- study's analysis replaced the first's rows, and the first study's reports showed the second's numbers.
alter table images add column result_um_per_px double precision;
update images i set result_um_per_px = r.um_per_px
from studies s, image_metrics r
where s.id = i.study_id and i.state = 'succeeded' and r.image_sha256 = i.sha256 and r.model_id = s.model_id;

alter table capillaries add column um_per_px double precision;
update capillaries c set um_per_px = r.um_per_px from image_metrics r where r.image_sha256 = c.image_sha256 and r.model_id = c.model_id;
alter table capillaries alter column um_per_px set not null;

alter table capillaries drop constraint capillaries_image_sha256_model_id_fkey;
alter table capillaries drop constraint capillaries_pkey;
alter table image_metrics drop constraint image_metrics_pkey;
alter table image_metrics add primary key (image_sha256, model_id, um_per_px);
alter table capillaries add primary key (image_sha256, model_id, um_per_px, instance_index);
alter table capillaries add foreign key (image_sha256, model_id, um_per_px)
    references image_metrics (image_sha256, model_id, um_per_px) on delete cascade;

-- An image's results are those at its own calibration.
create or replace view v_image_results as
select s.external_id as study, p.code as patient, i.finger, i.field, i.rel_path, i.state, i.error_code, i.error,
       encode(i.sha256, 'hex') as image_sha256, m.name as model, m.version as model_version, encode(m.sha256, 'hex') as model_sha256,
       r.um_per_px, r.instance_count, r.distal_count, r.density_per_mm, r.row_length_mm, r.hemorrhage_count,
       r.gradable, r.ungradable_reason, r.quality, r.analysed_at
from images i
join patients p on p.id = i.patient_id
join studies s on s.id = i.study_id
left join image_metrics r on r.image_sha256 = i.sha256 and r.um_per_px = i.result_um_per_px
left join models m on m.id = r.model_id;
