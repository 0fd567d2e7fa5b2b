-- A compacted row's `batch_ids` (about 4–5 uuids, ~90 B) stays in the row, compressed there if it can be,
-- instead of being moved to TOAST: with toast_tuple_target = 128 every compacted row pushed it out of line,
-- which cost a TOAST tuple, its index entry and an 18 B pointer (~170 B a row, 0.09 B per heart-rate reading).
-- Existing rows keep their layout until they are rewritten (compaction, corrections).
ALTER TABLE raw_segments ALTER COLUMN batch_ids SET STORAGE MAIN;
