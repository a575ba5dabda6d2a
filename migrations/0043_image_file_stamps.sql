-- What said a file was the one registration read, without reading it again (FileStamps: device, inode, size,
-- modification and change times): a resubmission reuses the hash and header of a file whose stamp is unchanged instead
-- of reading every file of the study again. Null where unknown: rows from before, files unread at registration, files
-- changed within moments of the read or while they were hashed, file systems that give no such times.
alter table images add column if not exists file_stamp text;
