-- check: near_duplicates
-- title: Near-duplicate chains
-- what: Blocks of chains to compare: all items of one report, ordered, with their steps joined into
--   one text. `radprm.qa.checks` then scores every pair inside a block with rapidfuzz (`fuzz.ratio` on
--   lower-cased text, 0-100) and keeps pairs at or above --near-dup-threshold. Blocking by report keeps
--   the work near-linear: pairs are only formed inside a report (rollouts of one question, or one
--   chain reused across questions). A report with more than 300 items is split by question.
-- threshold: warn on any pair at or above the threshold (default 90).
-- version: 1
SELECT
    report_id,
    question,
    item_id,
    array_to_string(list_transform(steps, lambda s: s.text), chr(10)) AS chain
FROM items
WHERE report_id IN (SELECT report_id FROM items GROUP BY report_id HAVING count(*) > 1)
ORDER BY report_id, question, item_id
