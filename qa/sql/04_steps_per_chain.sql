-- check: steps_per_chain
-- title: Steps per chain
-- what: Distribution of the number of steps per item, per task (items, share of the task's items).
-- threshold: warn on chains of 20 steps or more (a runaway generation).
-- version: 1
SELECT
    task,
    len(steps) AS n_steps,
    count(*) AS items,
    round(count(*) / sum(count(*)) OVER (PARTITION BY task), 3) AS share,
    len(steps) >= 20 AS warn
FROM items
GROUP BY task, len(steps)
ORDER BY task, n_steps
