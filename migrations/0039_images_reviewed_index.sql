-- The fields a review ever changed (images.qc_changed_at set), for the workers' review-pending sweep: a few rows of a
-- large table, found without reading every completed patient's images at every pass.
create index images_qc_changed_idx on images (qc_changed_at) where qc_changed_at is not null;
