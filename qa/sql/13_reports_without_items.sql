-- check: reports_without_items
-- title: Reports with no items
-- what: Reports of the input that produced no item, with the quarantine reason when the run recorded
--   one for that report id. Needs the list of input reports: `radprm qa --reports FILE`, or, when not
--   given, the `reports` path of the run meta in manifest.json (what `radprm mine` records). Skipped
--   (with a note) when neither is available. Table `reports(report_id)` and `quarantine(record_id,
--   stage, reason_code)` are registered by `radprm.qa.checks`.
--   Reports the job kept out on purpose (`--exclude-reports`, reason `mine:excluded`) are listed
--   without a warning.
-- threshold: warn on any such report that was not excluded on purpose.
-- needs: reports
-- version: 2
SELECT
    r.report_id,
    coalesce(string_agg(DISTINCT q.stage || ':' || q.reason_code, ', '), '(no quarantine record)') AS reason,
    NOT coalesce(bool_and(q.reason_code = 'excluded'), false) AS warn
FROM reports AS r
LEFT JOIN quarantine AS q ON q.record_id = r.report_id
WHERE NOT EXISTS (SELECT 1 FROM items AS i WHERE i.report_id = r.report_id)
GROUP BY r.report_id
ORDER BY r.report_id
