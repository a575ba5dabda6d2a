-- Study folders of a watched share that are not being analysed, and why, so an operator sees it without the worker's
-- log: refused by the scan (no images, a bad study.json, a link out of the share), waiting for a READY file or
-- study.json, waiting for file times in the future, or refused when registered (an id registered from another folder).
-- Each scan replaces its own notes for the root; a registration refusal stays until the folder is submitted again or gone.
create table share_folder_notes (
    root        text not null,
    folder      text not null,
    state       text not null check (state in ('refused', 'no_marker', 'waiting', 'registration_refused')),
    reason      text not null,
    first_seen  timestamptz not null default now(),
    last_seen   timestamptz not null default now(),
    primary key (root, folder)
);
