-- A study submitted as a list of images (studies.source_path null) keeps each rel_path relative to the share root, so
-- its first segment is a share folder, not the patient's, and any folder on the way may carry a patient's name: shown as
-- code/finger/file name ("incoming/Doe-Jane/L2/f1.jpg" of patient P1 is "P1/L2/f1.jpg"). Folder studies are as 0025.
create function shown_image_path(patient_code text, finger text, rel_path text, from_folder boolean) returns text
language sql immutable parallel safe
as $$ select case when from_folder then shown_path(patient_code, rel_path)
                  else patient_code || coalesce('/' || finger, '') || '/' || regexp_replace(rel_path, '^.*/', '') end $$;

create or replace view v_image_results as
select s.external_id as study, p.code as patient, i.finger, i.field,
       shown_image_path(p.code, i.finger, i.rel_path, s.source_path is not null) as rel_path, i.state,
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
