-- check: report_mentions
-- title: Steps that cite the report, by chain style
-- what: Steps that mention the report instead of the image ("the report states", "is described", "not
--   mentioned"; the versioned phrase list in `miners/report_mentions.json`), counted per chain style.
--   Image-style chains are written as reading the film for models that never see a report, so any such
--   step there is a defect (image-style exports leave those chains out, `--report-mentions`);
--   report-style chains cite the report by design and never warn. `radprm.qa.checks` matches the
--   phrases on the step texts this query returns.
-- threshold: warn when an image-style step cites the report.
-- version: 1
SELECT coalesce(style, 'report (pre-style shards)') AS style, item_id, list_transform(steps, lambda s: s.text) AS steps
FROM items
ORDER BY 1, item_id
