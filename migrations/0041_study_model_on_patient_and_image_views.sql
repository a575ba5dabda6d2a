-- As v_patient_summary (0040): a study analysed by two models has rows of each in the morphology, diameter and image
-- views, and an average over them weighed each patient or field twice. is_study_model marks the rows of the study's
-- current model; in v_image_results also an image's row with no result (queued, failed), so that
-- `where is_study_model` lists each field once. Appended at the end, as create or replace view requires; the bodies
-- are 0033's and 0029's.
create or replace view v_patient_morphology as
select s.external_id as study, p.code as patient, m.name as model, m.version as model_version,
       c.key as class_name, (c.value ->> 'count')::integer as count, (c.value ->> 'percent')::double precision as percent,
       encode(m.sha256, 'hex') as model_sha256,
       p.state as patient_state, pm.um_per_px, pm.computed_at,
       exists (select 1 from images i where i.patient_id = p.id and i.qc_changed_at > pm.computed_at) as review_pending,
       pm.model_id = s.model_id as is_study_model
from patient_metrics pm
join patients p on p.id = pm.patient_id
join studies s on s.id = p.study_id
join models m on m.id = pm.model_id
cross join lateral jsonb_each(pm.morphology -> 'by_class') c;

create or replace view v_patient_diameters as
select s.external_id as study, p.code as patient, m.name as model, m.version as model_version,
       d.key as diameter, (d.value ->> 'n')::integer as n,
       (d.value ->> 'mean')::double precision as mean_um, (d.value ->> 'sd')::double precision as sd_um,
       (d.value ->> 'median')::double precision as median_um, (d.value ->> 'p10')::double precision as p10_um,
       (d.value ->> 'p90')::double precision as p90_um, (d.value ->> 'max')::double precision as max_um,
       encode(m.sha256, 'hex') as model_sha256,
       p.state as patient_state, pm.um_per_px, pm.computed_at,
       exists (select 1 from images i where i.patient_id = p.id and i.qc_changed_at > pm.computed_at) as review_pending,
       pm.model_id = s.model_id as is_study_model
from patient_metrics pm
join patients p on p.id = pm.patient_id
join studies s on s.id = p.study_id
join models m on m.id = pm.model_id
cross join lateral jsonb_each(pm.diameters) d;

create or replace view v_image_results as
select s.external_id as study, p.code as patient, i.finger, i.field,
       shown_image_path(p.code, i.finger, i.rel_path, s.source_path is not null) as rel_path, i.state,
       i.error_code, i.error,
       encode(i.sha256, 'hex') as image_sha256, m.name as model, m.version as model_version, encode(m.sha256, 'hex') as model_sha256,
       r.um_per_px, r.instance_count, r.distal_count, r.density_per_mm, r.row_length_mm, r.hemorrhage_count,
       r.gradable, r.ungradable_reason, r.quality, r.analysed_at, r.notes,
       i.qc_exclusion, i.qc_excluded_by, i.qc_excluded_at,
       r.model_id is null or r.model_id is not distinct from s.model_id as is_study_model
from images i
join patients p on p.id = i.patient_id
join studies s on s.id = i.study_id
left join image_metrics r on r.image_sha256 = i.sha256 and r.um_per_px = i.result_um_per_px
    and (r.model_id = s.model_id
         or exists (select 1 from patient_metrics pm where pm.patient_id = i.patient_id and pm.model_id = r.model_id))
left join models m on m.id = r.model_id;
