-- The morphology and diameter views say, as the summary does, when their figures may be stale: the patient is being
-- analysed again (patient_state), a review changed its fields since (review_pending), and at what calibration and when
-- they were computed. Columns are added at the end, as create or replace view requires.
create or replace view v_patient_morphology as
select s.external_id as study, p.code as patient, m.name as model, m.version as model_version,
       c.key as class_name, (c.value ->> 'count')::integer as count, (c.value ->> 'percent')::double precision as percent,
       encode(m.sha256, 'hex') as model_sha256,
       p.state as patient_state, pm.um_per_px, pm.computed_at,
       exists (select 1 from images i where i.patient_id = p.id and i.qc_changed_at > pm.computed_at) as review_pending
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
       exists (select 1 from images i where i.patient_id = p.id and i.qc_changed_at > pm.computed_at) as review_pending
from patient_metrics pm
join patients p on p.id = pm.patient_id
join studies s on s.id = p.study_id
join models m on m.id = pm.model_id
cross join lateral jsonb_each(pm.diameters) d;

-- A failed field is counted once, as failed: an exclusion it also carries (made while it was queued, or kept when a
-- reanalysis failed it) made failed_fields + excluded_fields count it twice.
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
       pm.settings ->> 'software_version' as software_version,
       (select count(*) from images i where i.patient_id = p.id and i.qc_exclusion is not null and i.state <> 'failed')::integer as excluded_fields,
       exists (select 1 from images i where i.patient_id = p.id and i.qc_changed_at > pm.computed_at) as review_pending
from patient_metrics pm
join patients p on p.id = pm.patient_id
join studies s on s.id = p.study_id
join models m on m.id = pm.model_id;
