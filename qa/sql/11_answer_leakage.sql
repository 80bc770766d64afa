-- check: answer_leakage
-- title: Answer leakage into the question or early steps
-- what: Items whose reference answer is given away before the reasoning ends:
--   (question) the answer string appears as a whole word in the question although it is not one of
--   the options (a question that lists its options names them all, which is fine; yes/no answers are
--   always options);
--   (step) a step before the last states it as the answer: the word 'answer' (or 'conclusion') followed
--   within 30 characters, in the same sentence, by the answer string. A step that merely mentions a
--   finding is reasoning, not leakage.
--   Matching is case-insensitive, and '_' in answers matches a space ('pleural_effusion').
-- threshold: warn on any leak.
-- version: 1
WITH answers AS (
    SELECT
        item_id, report_id, task, question,
        list_transform(options, lambda o: lower(replace(o, '_', ' '))) AS opts,
        lower(replace(ans, '_', ' ')) AS answer
    FROM (SELECT *, unnest(answer) AS ans FROM items)
),
patterns AS (
    SELECT *, regexp_replace(answer, '([.*+?^${}()|\[\]\\])', '\\\1', 'g') AS pat FROM answers
    WHERE length(answer) > 0
),
question_candidates AS (
    -- cheap substring filter first; the per-row regex only runs on candidates
    SELECT * FROM patterns WHERE NOT list_contains(opts, answer) AND contains(lower(question), answer)
),
in_question AS (
    SELECT item_id, report_id, task, answer, 'question' AS place, question AS text
    FROM question_candidates
    WHERE regexp_matches(lower(question), '\b' || pat || '\b')
),
step_candidates AS (
    SELECT item_id, step_index, text, lower(text) AS low
    FROM steps
    WHERE step_index < n_steps - 1 AND regexp_matches(lower(text), '\b(answer|conclusion)\b')
),
in_steps AS (
    SELECT p.item_id, p.report_id, p.task, p.answer, 'step ' || s.step_index AS place, s.text
    FROM step_candidates AS s
    JOIN patterns AS p USING (item_id)
    WHERE contains(s.low, p.answer)
      AND regexp_matches(s.low, '\b(answer|conclusion)\b[^.]{0,30}\b' || p.pat || '\b')
)
SELECT item_id, report_id, task, answer, place, text, true AS warn
FROM (SELECT * FROM in_question UNION ALL SELECT * FROM in_steps)
ORDER BY report_id, item_id, place
