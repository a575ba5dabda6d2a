-- StudySubmitted through the completion events' outbox: stored in the registering transaction and published after its
-- commit, as the completions are. It was published once after the commit, and one the broker did not confirm was lost.
alter table completion_events drop constraint completion_events_kind_check;
alter table completion_events add constraint completion_events_kind_check
    check (kind in ('patient_completed', 'study_completed', 'study_submitted'));
