-- check: chain_scores
-- title: Chain scores per task and model
-- what: Mean RadRScore-style chain scores (completeness, factuality, effectiveness) and answer reward
--   per task and model, with the share of items where the scores are missing (null).
-- threshold: warn when more than half of a group's items have no completeness score.
-- version: 1
SELECT
    task,
    model,
    count(*) AS items,
    round(avg(completeness), 3) AS completeness,
    round(avg(factuality), 3) AS factuality,
    round(avg(effectiveness), 3) AS effectiveness,
    round(avg(answer_reward), 3) AS answer_reward,
    round(count(*) FILTER (WHERE completeness IS NULL) / count(*), 3) AS missing_scores,
    count(*) FILTER (WHERE completeness IS NULL) / count(*) > 0.5 AS warn
FROM items
GROUP BY task, model
ORDER BY task, model
