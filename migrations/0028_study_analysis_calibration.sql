-- The µm/px a study's images are analysed at, fixed when it is registered: its own calibration, else the registering
-- worker's Worker:DefaultMicrometresPerPixel. Chunks read it, so workers with different defaults (or a default changed
-- in a rolling restart) no longer measure one uncalibrated study's images at different scales. studies.um_per_px stays
-- null for an uncalibrated study, as the reports show it.
alter table studies add column analysis_um_per_px double precision check (analysis_um_per_px > 0);
