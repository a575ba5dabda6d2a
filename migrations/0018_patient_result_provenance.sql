-- Beside each patient result: the calibration its images were measured at (null when they were measured at more
-- than one) and how many of its fields gave no result (failed images), so a summary from 1 of 8 fields shows itself.
-- The views add the model's SHA-256 (two versions of one model name are told apart), those two, the patient's state
-- and the software that computed the result (settings.software_version).
alter table patient_metrics add column um_per_px double precision, add column failed_fields integer;

create or replace view v_patient_summary as
select s.external_id as study, p.code as patient, m.name as model, m.version as model_version,
       pm.gradable_fields, pm.ungradable_fields,
       round(pm.density_mean::numeric, 2) as density_mean_per_mm,
       round(pm.density_median::numeric, 2) as density_median_per_mm,
       round(pm.density_sd::numeric, 2) as density_sd_per_mm,
       pm.capillary_count, pm.dilated_count, pm.giant_count, pm.abnormal_count, pm.hemorrhage_count,
       (pm.morphology -> 'by_category_percent' ->> 'normal')::double precision as normal_percent,
       (pm.morphology -> 'by_category_percent' ->> 'abnormal')::double precision as abnormal_percent,
       (pm.diameters -> 'apical' ->> 'mean')::double precision as apical_mean_um,
       (pm.diameters -> 'apical' ->> 'median')::double precision as apical_median_um,
       (pm.diameters -> 'apical' ->> 'max')::double precision as apical_max_um,
       pm.pattern, pm.rule_trace ->> 'summary' as pattern_reason, pm.computed_at,
       encode(m.sha256, 'hex') as model_sha256, pm.um_per_px, pm.failed_fields, p.state as patient_state,
       pm.settings ->> 'software_version' as software_version
from patient_metrics pm
join patients p on p.id = pm.patient_id
join studies s on s.id = p.study_id
join models m on m.id = pm.model_id;

create or replace view v_patient_morphology as
select s.external_id as study, p.code as patient, m.name as model, m.version as model_version,
       c.key as class_name, (c.value ->> 'count')::integer as count, (c.value ->> 'percent')::double precision as percent,
       encode(m.sha256, 'hex') as model_sha256
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
       encode(m.sha256, 'hex') as model_sha256
from patient_metrics pm
join patients p on p.id = pm.patient_id
join studies s on s.id = p.study_id
join models m on m.id = pm.model_id
cross join lateral jsonb_each(pm.diameters) d;
