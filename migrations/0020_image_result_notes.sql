-- What the decoder and the measurement noted about an image result (a libjpeg-turbo warning the image passed with, an
-- EXIF orientation applied, a sparse distal row, ...), in the order they were noted. Results stored before this have none.
alter table image_metrics add column notes text[] not null default '{}';

create or replace view v_image_results as
select s.external_id as study, p.code as patient, i.finger, i.field, i.rel_path, i.state, i.error_code, i.error,
       encode(i.sha256, 'hex') as image_sha256, m.name as model, m.version as model_version, encode(m.sha256, 'hex') as model_sha256,
       r.um_per_px, r.instance_count, r.distal_count, r.density_per_mm, r.row_length_mm, r.hemorrhage_count,
       r.gradable, r.ungradable_reason, r.quality, r.analysed_at, r.notes
from images i
join patients p on p.id = i.patient_id
join studies s on s.id = i.study_id
left join image_metrics r on r.image_sha256 = i.sha256 and r.um_per_px = i.result_um_per_px
    and (r.model_id = s.model_id
         or exists (select 1 from patient_metrics pm where pm.patient_id = i.patient_id and pm.model_id = r.model_id))
left join models m on m.id = r.model_id;
