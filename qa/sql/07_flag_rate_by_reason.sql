-- check: flag_rate_by_reason
-- title: Flag rate by reason code
-- what: For each reason code given by the step validator: steps carrying it, their share of all
--   steps, how many of them are labelled bad, and items affected.
-- threshold: warn when one reason code is on more than 25% of all steps (a rule firing too widely).
-- version: 1
WITH total AS (SELECT count(*) AS n FROM steps),
reasons AS (SELECT item_id, label, unnest(reasons) AS reason FROM steps)
SELECT
    reason,
    count(*) AS steps,
    round(count(*) / any_value(total.n), 4) AS share_of_steps,
    count(*) FILTER (WHERE NOT label) AS bad_steps,
    count(DISTINCT item_id) AS items,
    count(*) / any_value(total.n) > 0.25 AS warn
FROM reasons, total
GROUP BY reason
ORDER BY steps DESC, reason
