-- The outbox dispatcher claims an unpublished job before it publishes it, and published_at is stamped only after the
-- broker has confirmed the publish. A claim left by a dispatcher that died between the two expires, so the job is
-- published again instead of waiting for ever.
alter table jobs add column publish_claimed_at timestamptz;
