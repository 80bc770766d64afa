-- check: phi_hits
-- title: PHI left in the shards
-- what: PHI guard hits recorded in the `phi` column (`radprm mine --phi flag|mask`), one row per item,
--   place (report, plan, step:N) and entity type. A hit warns while the stored text of that place does
--   not hold the guard's `<ENTITY>` placeholder, i.e. the identifier is still there (`--phi flag`);
--   masked hits (`--phi mask`) are listed without a warning. Items mined with the guard off (`phi` null,
--   or shards of schema version 1) have nothing to list: the dataset card states the policy used.
-- threshold: warn on any unmasked hit.
-- version: 1
WITH hits AS (
    SELECT item_id, report_id, report_text, plan, steps,
        unnest(from_json(phi, '[{"where":"VARCHAR","entity":"VARCHAR","start":"INTEGER","end":"INTEGER"}]')) AS h
    FROM items
    WHERE phi IS NOT NULL AND phi <> '[]'
),
placed AS (
    SELECT item_id, report_id, h."where" AS place, h.entity AS entity,
        CASE
            WHEN h."where" = 'report' THEN report_text
            WHEN h."where" = 'plan' THEN plan
            ELSE steps[CAST(split_part(h."where", ':', 2) AS INTEGER) + 1].text
        END AS stored
    FROM hits
)
SELECT item_id, report_id, place, entity, count(*) AS hits,
    bool_or(NOT contains(coalesce(stored, ''), '<' || entity || '>') AND coalesce(stored, '') <> '') AS warn
FROM placed
GROUP BY ALL
ORDER BY warn DESC, report_id, item_id, place, entity
