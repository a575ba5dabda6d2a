-- Deleting a study removes its completion events (on delete cascade): without an index on study_id each deletion
-- scanned the whole table under the study's lock. Published events older than 30 days are trimmed by the workers'
-- outbox pass (CompletionEventStore.TrimPublishedAsync); the index on published_at serves that.
create index completion_events_study on completion_events (study_id);
create index completion_events_published on completion_events (published_at) where published_at is not null;
