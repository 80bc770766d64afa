-- check: item_counts
-- title: Items, reports and steps
-- what: Totals of the directory, per run id. An empty output is a failed run, not a quiet success.
-- threshold: warn when the directory holds no item, or items without any step.
-- version: 1
WITH per_run AS (
    SELECT
        coalesce(run_id, '(none)') AS run_id,
        count(*) AS items,
        count(DISTINCT report_id) AS reports,
        sum(len(steps)) AS steps
    FROM items
    GROUP BY ALL
)
SELECT run_id, items, reports, steps, steps = 0 AS warn FROM per_run
UNION ALL
SELECT '(all runs)', 0, 0, 0, true WHERE NOT EXISTS (SELECT 1 FROM items)
ORDER BY run_id
