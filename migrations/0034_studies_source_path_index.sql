-- A registration, `nfc enqueue` and POST /api/studies each ask which study a share folder is registered as (a folder
-- is one study); without an index that read every study.
create index if not exists studies_source_path on studies (source_path) where source_path is not null;
