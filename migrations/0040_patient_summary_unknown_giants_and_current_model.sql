-- giant_count counts the loops found giant; a loop whose apex was not measured has no giant flag, and a patient whose
-- apices were all unmeasured read as one with no giants. giant_unknown_count says how many (null for results computed
-- before it was recorded in the rule trace). A study analysed by two models has a row per model: is_study_model marks
-- the study's current model's, so that `where is_study_model` counts each patient once.
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
       (select count(*) from images i where i.patient_id = p.id and i.qc_exclusion is not null and i.state <> 'failed'
          and exists (select 1 from image_metrics r where r.image_sha256 = i.sha256 and r.model_id = pm.model_id
                      and r.um_per_px = i.result_um_per_px))::integer as excluded_fields,
       exists (select 1 from images i where i.patient_id = p.id and i.qc_changed_at > pm.computed_at) as review_pending,
       (pm.rule_trace -> 'inputs' ->> 'giant_unknown_count')::integer as giant_unknown_count,
       pm.model_id = s.model_id as is_study_model
from patient_metrics pm
join patients p on p.id = pm.patient_id
join studies s on s.id = p.study_id
join models m on m.id = pm.model_id;
