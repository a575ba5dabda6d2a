-- Dilated and giant are unknown (null) where the apex cannot be measured: cut by the frame, unconfident apex
-- keypoints, or no loop at all. They were stored as false, so counting "not dilated" took in loops nobody measured.
-- Rows stored before this keep their false.
alter table capillaries alter column dilated drop not null, alter column dilated drop default,
                        alter column giant drop not null, alter column giant drop default;
comment on column capillaries.dilated is 'apex in the dilated range; null when the apex could not be measured';
comment on column capillaries.giant is 'apex in the giant range; null when the apex could not be measured';
