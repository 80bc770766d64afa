-- check: short_chains
-- title: Empty or single-step chains
-- what: Items whose reasoning chain has no step or a single step: no process to supervise.
-- threshold: warn on any such item.
-- version: 1
SELECT
    item_id,
    report_id,
    task,
    len(steps) AS n_steps,
    true AS warn
FROM items
WHERE len(steps) <= 1
ORDER BY n_steps, report_id, item_id
