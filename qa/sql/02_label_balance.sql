-- check: label_balance
-- title: Answer balance per task
-- what: Items per task and reference answer, with the share of the task's items. Multi-label answers
--   count once per label, so shares of a multi-label task can add up to more than 1; an item with an
--   empty answer counts as '(none)'.
-- threshold: warn when one answer holds more than 90% of a task's items (tasks with at least 20 items).
-- version: 1
WITH per_task AS (
    SELECT task, count(*) AS task_items FROM items GROUP BY task
),
answers AS (
    SELECT task, unnest(CASE WHEN len(answer) = 0 THEN ['(none)'] ELSE answer END) AS answer FROM items
)
SELECT
    a.task,
    a.answer,
    count(*) AS items,
    round(count(*) / any_value(t.task_items), 3) AS share,
    count(*) / any_value(t.task_items) > 0.90 AND any_value(t.task_items) >= 20 AS warn
FROM answers AS a
JOIN per_task AS t USING (task)
GROUP BY a.task, a.answer
ORDER BY a.task, items DESC, a.answer
