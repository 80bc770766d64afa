-- check: items_without_images
-- title: Items without image paths
-- what: Items whose `image_paths` list is empty: a vision-language trainer has nothing to look at
--   (IU: pass --projections indiana_projections.csv to `radprm mine`; MIMIC-CXR-JPG: its metadata CSV
--   and --images-root). One row per report, with its number of items.
-- threshold: warn on any item without images.
-- version: 1
SELECT report_id, count(*) AS items, any_value(coalesce(style, '')) AS style, true AS warn
FROM items
WHERE len(image_paths) = 0
GROUP BY report_id
ORDER BY report_id
