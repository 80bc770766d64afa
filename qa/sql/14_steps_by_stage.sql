-- check: steps_by_stage
-- title: Steps and flag rate per CXRTrek stage
-- what: For staged chains (`radprm mine --mode staged`), steps per stage (view, findings, attributes,
--   relations, comparison, diagnosis), how many are flagged bad, the flag rate and the reason codes met.
--   No rows for reasoner chains (their steps have no stage) or shards written before schema version 2.
-- threshold: warn when a stage with at least 20 steps is flagged more than twice as often as all staged
--   steps together (one stage of the prompt or of the validator going wrong).
-- version: 1
WITH staged AS (SELECT * FROM steps WHERE step_stage IS NOT NULL),
overall AS (SELECT count(*) FILTER (WHERE NOT label) / greatest(count(*), 1) AS rate FROM staged)
SELECT
    step_stage AS stage,
    count(*) AS steps,
    count(DISTINCT item_id) AS items,
    count(*) FILTER (WHERE NOT label) AS bad,
    round(count(*) FILTER (WHERE NOT label) / count(*), 3) AS flag_rate,
    round(any_value(overall.rate), 3) AS overall_flag_rate,
    list_sort(list_distinct(flatten(list(reasons)))) AS reasons,
    count(*) >= 20 AND count(*) FILTER (WHERE NOT label) / count(*) > 2 * any_value(overall.rate) AS warn
FROM staged, overall
GROUP BY step_stage
ORDER BY steps DESC, stage
