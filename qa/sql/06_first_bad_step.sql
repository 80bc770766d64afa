-- check: first_bad_step
-- title: first_bad_step agrees with the step labels
-- what: Items whose stored first_bad_step differs from the position of their first step labelled bad
--   (-1 when every step is good), or whose step indexes are not 0, 1, 2, ... in order. Either means
--   misaligned rows: labels no longer match the steps they describe.
-- threshold: warn on any such item.
-- version: 1
WITH chk AS (
    SELECT
        item_id, report_id, first_bad_step,
        coalesce(list_position(list_transform(steps, lambda s: s.label), false) - 1, -1) AS expected,
        list_transform(steps, lambda s: s.index) AS indexes,
        range(len(steps)) AS wanted
    FROM items
)
SELECT
    item_id,
    report_id,
    first_bad_step,
    expected AS first_bad_from_labels,
    indexes = wanted AS indexes_in_order,
    true AS warn
FROM chk
WHERE first_bad_step <> expected OR indexes <> wanted
ORDER BY report_id, item_id
