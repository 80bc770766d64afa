-- check: rollout_agreement
-- title: Report-grounded vs rollout labels
-- what: Agreement of the step validator's label with the Monte-Carlo rollout label (radprm label rollouts),
--   by task and by reason code, over steps that have both (validator verdict not unsure, mc_label not null):
--   steps, share that agree, Cohen's kappa, bad labels from each source. No rows when nothing was rolled out.
-- threshold: warn when a task or a reason code has at least 20 such steps and the sources agree on fewer than 50%.
-- version: 1
WITH both_labelled AS (
    SELECT task, label, mc_label, CASE WHEN len(reasons) = 0 THEN ['none'] ELSE reasons END AS reasons
    FROM steps
    WHERE mc_label IS NOT NULL AND verdict <> 'unsure'
),
keyed AS (
    SELECT 'task' AS grouping, task AS value, label, mc_label FROM both_labelled
    UNION ALL
    SELECT 'reason' AS grouping, unnest(reasons) AS value, label, mc_label FROM both_labelled
),
counts AS (
    SELECT
        grouping, value,
        count(*) AS steps,
        count(*) FILTER (WHERE label = mc_label) AS agree,
        count(*) FILTER (WHERE NOT label) AS report_bad,
        count(*) FILTER (WHERE NOT mc_label) AS rollout_bad
    FROM keyed
    GROUP BY grouping, value
),
scored AS (
    SELECT *,
        agree / steps AS po,
        (report_bad / steps) * (rollout_bad / steps)
            + (1 - report_bad / steps) * (1 - rollout_bad / steps) AS pe
    FROM counts
)
SELECT
    grouping, value, steps,
    round(po, 3) AS agreement,
    CASE WHEN pe < 1 THEN round((po - pe) / (1 - pe), 3) END AS kappa,
    report_bad, rollout_bad,
    steps >= 20 AND po < 0.5 AS warn
FROM scored
ORDER BY grouping DESC, steps DESC, value
