-- A loop whose apex lies outside the image (FrameCut in NfcPipeline.Core): its apical diameter, loop height and
-- limb length are null because nothing in the image marks its apex, not because a keypoint was unsure.
alter table capillaries add column apex_cut_by_frame boolean not null default false;
