-- A reviewer may exclude a field from its patient's results (an artefact, the wrong finger, a field read twice): the
-- image keeps its own result, and aggregation counts it as ungradable with the reviewer's reason. The exclusion belongs
-- to the content reviewed, so registration drops it when the file's content changes.
alter table images
    add column qc_exclusion text check (length(qc_exclusion) between 1 and 500),
    add column qc_excluded_by text,
    add column qc_excluded_at timestamptz,
    -- the last exclusion or inclusion: patient results computed before it do not show it yet
    add column qc_changed_at timestamptz,
    add constraint images_qc_exclusion_complete check ((qc_exclusion is null) = (qc_excluded_at is null));

create or replace view v_image_results as
select s.external_id as study, p.code as patient, i.finger, i.field,
       shown_image_path(p.code, i.finger, i.rel_path, s.source_path is not null) as rel_path, i.state,
       i.error_code, i.error,
       encode(i.sha256, 'hex') as image_sha256, m.name as model, m.version as model_version, encode(m.sha256, 'hex') as model_sha256,
       r.um_per_px, r.instance_count, r.distal_count, r.density_per_mm, r.row_length_mm, r.hemorrhage_count,
       r.gradable, r.ungradable_reason, r.quality, r.analysed_at, r.notes,
       i.qc_exclusion, i.qc_excluded_by, i.qc_excluded_at
from images i
join patients p on p.id = i.patient_id
join studies s on s.id = i.study_id
left join image_metrics r on r.image_sha256 = i.sha256 and r.um_per_px = i.result_um_per_px
    and (r.model_id = s.model_id
         or exists (select 1 from patient_metrics pm where pm.patient_id = i.patient_id and pm.model_id = r.model_id))
left join models m on m.id = r.model_id;

-- Excluding and including a field are operator actions on results, recorded like the others.
alter table audit_log drop constraint audit_log_action_check;
alter table audit_log add constraint audit_log_action_check
    check (action in ('delete_study', 'requeue_jobs', 'delete_jobs', 'exclude_field', 'include_field'));

-- Each patient result says how many of its fields a reviewer excluded, and whether a field was excluded or included
-- after it was computed (its figures do not show that yet: a worker recomputes them).
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
       (select count(*) from images i where i.patient_id = p.id and i.qc_exclusion is not null)::integer as excluded_fields,
       exists (select 1 from images i where i.patient_id = p.id and i.qc_changed_at > pm.computed_at) as review_pending
from patient_metrics pm
join patients p on p.id = pm.patient_id
join studies s on s.id = p.study_id
join models m on m.id = pm.model_id;
