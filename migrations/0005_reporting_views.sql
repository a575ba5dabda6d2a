-- Views for SQL users. One row per (patient, model) for patient views, so results of model versions sit side by side.

create view v_study_progress as
select s.id as study_id, s.external_id as study, s.state, s.created_at, s.completed_at,
       count(i.id) as images,
       count(*) filter (where i.state = 'succeeded') as succeeded,
       count(*) filter (where i.state = 'failed') as failed,
       count(*) filter (where i.state in ('pending', 'queued', 'processing')) as remaining,
       round(100.0 * count(*) filter (where i.state in ('succeeded', 'failed')) / greatest(count(i.id), 1), 1) as percent_done
from studies s
left join images i on i.study_id = s.id
group by s.id;

create view v_image_results as
select s.external_id as study, p.code as patient, i.finger, i.field, i.rel_path, i.state, i.error_code, i.error,
       encode(i.sha256, 'hex') as image_sha256, m.name as model, m.version as model_version, encode(m.sha256, 'hex') as model_sha256,
       r.um_per_px, r.instance_count, r.distal_count, r.density_per_mm, r.row_length_mm, r.hemorrhage_count,
       r.gradable, r.ungradable_reason, r.quality, r.analysed_at
from images i
join patients p on p.id = i.patient_id
join studies s on s.id = i.study_id
left join image_metrics r on r.image_sha256 = i.sha256
left join models m on m.id = r.model_id;

create view v_patient_summary as
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
       pm.pattern, pm.rule_trace ->> 'summary' as pattern_reason, pm.computed_at
from patient_metrics pm
join patients p on p.id = pm.patient_id
join studies s on s.id = p.study_id
join models m on m.id = pm.model_id;

create view v_patient_morphology as
select s.external_id as study, p.code as patient, m.name as model, m.version as model_version,
       c.key as class_name, (c.value ->> 'count')::integer as count, (c.value ->> 'percent')::double precision as percent
from patient_metrics pm
join patients p on p.id = pm.patient_id
join studies s on s.id = p.study_id
join models m on m.id = pm.model_id
cross join lateral jsonb_each(pm.morphology -> 'by_class') c;

create view v_patient_diameters as
select s.external_id as study, p.code as patient, m.name as model, m.version as model_version,
       d.key as diameter, (d.value ->> 'n')::integer as n,
       (d.value ->> 'mean')::double precision as mean_um, (d.value ->> 'sd')::double precision as sd_um,
       (d.value ->> 'median')::double precision as median_um, (d.value ->> 'p10')::double precision as p10_um,
       (d.value ->> 'p90')::double precision as p90_um, (d.value ->> 'max')::double precision as max_um
from patient_metrics pm
join patients p on p.id = pm.patient_id
join studies s on s.id = p.study_id
join models m on m.id = pm.model_id
cross join lateral jsonb_each(pm.diameters) d;
