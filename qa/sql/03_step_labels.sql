-- check: step_labels
-- title: Step-label distribution per task
-- what: Steps per task split by label (good/bad) and by verdict. A PRM learns nothing from a task
--   whose steps are all good or all bad.
-- threshold: warn when fewer than 2% or more than 50% of a task's steps are bad.
-- version: 2
SELECT
    task,
    count(*) AS steps,
    count(*) FILTER (WHERE label) AS good,
    count(*) FILTER (WHERE NOT label) AS bad,
    round(count(*) FILTER (WHERE NOT label) / count(*), 3) AS bad_share,
    count(*) FILTER (WHERE verdict = 'supported') AS supported,
    count(*) FILTER (WHERE verdict = 'neutral') AS neutral,
    count(*) FILTER (WHERE verdict = 'unsupported') AS unsupported,
    count(*) FILTER (WHERE verdict = 'contradicted') AS contradicted,
    count(*) FILTER (WHERE verdict = 'unsure') AS unsure,
    count(*) FILTER (WHERE NOT label) / count(*) < 0.02 OR count(*) FILTER (WHERE NOT label) / count(*) > 0.50 AS warn
FROM steps
GROUP BY task
ORDER BY task
