-- A patient folder is shown by its patient code. With study.json's patients map the folder's name is often the
-- patient's own, and the code is how the study keeps it out of its results; images.rel_path keeps the path as written,
-- since the worker and the overlays open the file by it. Without a map the code is the folder's name, so nothing changes.
create function shown_path(patient_code text, rel_path text) returns text
language sql immutable parallel safe
as $$ select case when strpos(rel_path, '/') > 0 then patient_code || substr(rel_path, strpos(rel_path, '/')) else rel_path end $$;

create or replace view v_image_results as
select s.external_id as study, p.code as patient, i.finger, i.field, shown_path(p.code, i.rel_path) as rel_path, i.state,
       i.error_code, i.error,
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
