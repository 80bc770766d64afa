-- check: flag_rate_by_prompt
-- title: Flag rate by prompt version
-- what: For each prompt (name, version, first 12 hex digits of its sha256) used by items: items,
--   flagged items (at least one bad step), the item flag rate and the share of bad steps. Compare
--   versions of the same prompt to see whether a change helped.
-- threshold: warn when more than 50% of a prompt version's items are flagged.
-- version: 1
WITH per_item AS (
    SELECT
        item_id, prompts,
        len(steps) AS n_steps,
        len(list_filter(steps, lambda s: NOT s.label)) AS bad_steps
    FROM items
),
used AS (SELECT item_id, n_steps, bad_steps, unnest(prompts) AS p FROM per_item)
SELECT
    p.name AS prompt,
    p.version AS version,
    left(p.sha, 12) AS sha,
    count(*) AS items,
    count(*) FILTER (WHERE bad_steps > 0) AS flagged_items,
    round(count(*) FILTER (WHERE bad_steps > 0) / count(*), 3) AS flag_rate,
    round(sum(bad_steps) / greatest(sum(n_steps), 1), 3) AS bad_step_share,
    count(*) FILTER (WHERE bad_steps > 0) / count(*) > 0.50 AS warn
FROM used
GROUP BY p.name, p.version, p.sha
ORDER BY prompt, version, sha
