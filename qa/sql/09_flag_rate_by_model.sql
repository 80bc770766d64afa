-- check: flag_rate_by_model
-- title: Flag rate by model
-- what: For each model: items, flagged items (at least one bad step), the item flag rate, the share
--   of bad steps, and the mean answer reward.
-- threshold: warn when more than 50% of a model's items are flagged.
-- version: 1
WITH per_item AS (
    SELECT
        model, answer_reward,
        len(steps) AS n_steps,
        len(list_filter(steps, lambda s: NOT s.label)) AS bad_steps
    FROM items
)
SELECT
    model,
    count(*) AS items,
    count(*) FILTER (WHERE bad_steps > 0) AS flagged_items,
    round(count(*) FILTER (WHERE bad_steps > 0) / count(*), 3) AS flag_rate,
    round(sum(bad_steps) / greatest(sum(n_steps), 1), 3) AS bad_step_share,
    round(avg(answer_reward), 3) AS mean_answer_reward,
    count(*) FILTER (WHERE bad_steps > 0) / count(*) > 0.50 AS warn
FROM per_item
GROUP BY model
ORDER BY items DESC, model
