-- check: split_leakage
-- title: Leakage across train / validation / test
-- what: (patient) a patient whose items sit in more than one split; (text) two reports in different
--   splits whose normalised texts (lower case, de-identification marks and punctuation removed, spaces
--   collapsed) are near-identical: rapidfuzz `fuzz.ratio` at or above --leakage-threshold (default 95).
--   Texts are compared by blocking, never all pairs: identical normalised texts are grouped by hash,
--   and near-identical ones are looked for among the 30 nearest neighbours in three sort orders of the words
--   (as written, reversed, sorted; numbers left out of the sort keys), a few million comparisons at 100k. This query returns one
--   row per report (its patient, split and text); `radprm.qa.checks` forms the pairs.
-- threshold: warn on any patient in two splits and any near-duplicate pair across splits.
-- version: 1
SELECT report_id, coalesce(patient_id, report_id) AS patient_id, split, any_value(report_text) AS report_text
FROM items
WHERE split IS NOT NULL
GROUP BY report_id, coalesce(patient_id, report_id), split
ORDER BY report_id
