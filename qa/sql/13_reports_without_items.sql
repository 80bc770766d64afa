-- check: reports_without_items
-- title: Reports with no items
-- what: Reports of the input that produced no item, with the quarantine reason when the run recorded
--   one for that report id. Needs the list of input reports: `radprm qa --reports FILE`, or, when not
--   given, the `reports` path of the run meta in manifest.json (what `radprm mine` records). Skipped
--   (with a note) when neither is available. Table `reports(report_id)` is registered by
--   `radprm.qa.checks`; table `quarantine` (one row per record, with `report_id`) by `radprm.shards.connect`.
--   Reports the job kept out on purpose (`--exclude-reports`, reason `mine:excluded`) are listed
--   without a warning.
-- threshold: warn on any such report that was not excluded on purpose.
-- needs: reports
-- version: 3
SELECT
    r.report_id,
    coalesce(string_agg(DISTINCT q.stage || ':' || q.reason_code, ', '), '(no quarantine record)') AS reason,
    NOT coalesce(bool_and(q.reason_code = 'excluded'), false) AS warn
FROM reports AS r
LEFT JOIN quarantine AS q ON coalesce(q.report_id, q.record_id) = r.report_id AND q.resolved_at IS NULL
WHERE NOT EXISTS (SELECT 1 FROM items AS i WHERE i.report_id = r.report_id)
GROUP BY r.report_id
ORDER BY r.report_id
