-- Where each content's file was placed (issue 6; as sqlite/0007). A storage that renames for
-- free (local disk) places a finished file under its content key; an object store, where a
-- rename is a copy of every byte, keeps it where its upload was sealed. NULL: placed before this
-- migration (under its content key), or not placed yet (state 'absent'). The first start after
-- it moves what versions before content keys left under an upload's id, then records the
-- content key of these rows (`contents.move_legacy_files`).
ALTER TABLE contents ADD COLUMN placed_at TEXT;
