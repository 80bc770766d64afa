"""Step language and open-vocabulary checks, run through the real extractor and validator.

Reports and steps here are written for these tests (never IU text). Each case names the shape of
model output it pins: plans, absence by omission, exclusions, hedges, change over time, devices,
bones and numbers outside the label lexicon.
"""

import pytest

from radprm.schemas.records import Chain, Report
from radprm.validators.align import load_step_rules
from radprm.validators.clauses import clause_polarity, normalize_step, split_clauses
from radprm.validators.sentences import compare, read_facts
from radprm.validators.steps import StepValidator, same_length_fixes

REPORT = Report(report_id="r1", text=(
    "FINDINGS: Heart size is normal. The lungs are clear. No pneumothorax or pleural effusion. "
    "Left subclavian central venous catheter tip in the SVC. Calcified pleural plaques are unchanged. "
    "Early pulmonary edema cannot be excluded. Old healed fracture of the left 7th rib. "
    "Mild levoconvex scoliosis of the thoracic spine.\nIMPRESSION: No acute cardiopulmonary process."))


@pytest.fixture(scope="module")
def validator():
    return StepValidator(abstention="none")  # the rules' labels (the learned second opinion: test_validate_doubt)


def judge(validator, steps, report=REPORT, **kw):
    chain = Chain(chain_id="c1", report_id=report.report_id, steps=steps, **kw)
    return validator.validate(chain, report).steps


@pytest.mark.parametrize("step", [
    "First I'll look for signs of pneumonia such as consolidation.",
    "To judge cardiomegaly I need what the report says about the heart.",
    "The options are effusion, nodule and mass; I'll check each.",
    "An effusion would show as blunting of the costophrenic angles.",
    "Options to check: hernia, emphysema, nodule, consolidation.",
    "I'll evaluate each of the four options - mass, pneumothorax, nodule, infiltrate - against the report.",
    # (a modal keeps "can make" in one clause: general knowledge, not a claim that the heart looks larger)
    "Low lung volumes like these can make the heart look larger than it is.",
    "Pleural metastases could produce an effusion.",
    "Lymphadenopathy is the key finding to check.",
])
def test_meta_steps_are_neutral_glue(validator, step):
    [result] = judge(validator, [step])
    assert result.label, result.reasons
    assert result.verdict == "neutral"


@pytest.mark.parametrize("step", [
    "Pneumonia isn't mentioned, so I'll treat it as absent.",
    "There is no mention of a nodule, so none is present.",
    "Nothing acute is described, which goes against consolidation.",
    "Heart size is normal, so cardiomegaly is out.",
    "The report says nothing about emphysema, so it can be ruled out.",
    "Pneumothorax is explicitly excluded, as is pleural effusion.",
])
def test_absence_by_omission_or_exclusion_is_a_supported_negative(validator, step):
    [result] = judge(validator, [step])
    assert result.label, result.reasons


def test_cannot_exclude_reads_as_open_in_report_and_step(validator):
    """Extractor and validator together: 'cannot exclude' is neither present nor absent."""
    report = Report(report_id="r2", text="FINDINGS: Heart size is normal. Cannot exclude early pulmonary edema. "
                                         "Possible right lower lobe pneumonia.")
    claims = {c.observation: c.assertion for c in validator.report_claims(report)
              if c.source != "normal_statement"}
    assert claims["edema"] == "uncertain"
    assert claims["pneumonia"] == "uncertain"
    steps = ["Pulmonary edema cannot be excluded.", "We cannot exclude pneumonia in the right lower lobe.",
             "There is no pulmonary edema.", "There is pneumonia in the right lower lobe."]
    results = judge(validator, steps, report=report)
    assert [r.label for r in results] == [True, True, False, False]
    assert "uncertainty_dismissed" in results[2].reasons
    assert "uncertainty_overstated" in results[3].reasons


@pytest.mark.parametrize("step,reason", [
    ("Calcified pleural plaques are new since the prior exam.", "temporal_conflict"),
    ("The catheter tip lies in the right atrium.", "location_conflict"),
    ("There is an old healed fracture of the left 8th rib.", "ungrounded_number"),
    ("The thoracic spine shows mild scoliosis, convex to the right.", "laterality_conflict"),
    ("A right subclavian central venous catheter ends in the SVC.", "laterality_conflict"),
    ("No line or catheter is seen.", "negation_conflict"),
])
def test_open_vocabulary_errors_are_caught_with_their_reason(validator, step, reason):
    [result] = judge(validator, [step])
    assert not result.label
    assert reason in result.reasons
    assert result.evidence and all(REPORT.text[e.start:e.end] == e.text for e in result.evidence)


@pytest.mark.parametrize("step", [
    "Calcified pleural plaques are unchanged from the prior study.",
    "The central line enters on the left and its tip sits in the superior vena cava.",
    "There's an old healed fracture of the left seventh rib.",
    "The spine has a mild levoconvex curve.",
    "No acute fracture is described.",
])
def test_faithful_open_vocabulary_paraphrases_pass(validator, step):
    [result] = judge(validator, [step])
    assert result.label, result.reasons


def test_a_step_with_several_claims_is_judged_claim_by_claim(validator):
    [ok, bad] = judge(validator, ["The heart is normal and there is no effusion.",
                                  "The heart is normal, but there is a small left effusion."])
    assert ok.label
    assert not bad.label and "negation_conflict" in bad.reasons


def test_a_pronoun_step_is_read_with_the_previous_subject(validator):
    results = judge(validator, ["Calcified pleural plaques are noted.", "They are new since the prior study."])
    assert results[0].label
    assert not results[1].label and "temporal_conflict" in results[1].reasons


def test_weak_fault_on_an_aligned_step_abstains(validator):
    report = Report(report_id="r3", text="FINDINGS: Internal fixation hardware in the right humerus. Lungs are clear.")
    [result] = judge(validator, ["Internal fixation hardware with a small effusion is noted in the right humerus."],
                     report=report)
    assert not result.label
    assert result.verdict in ("unsure", "contradicted")


def test_clause_reading_units():
    lang = load_step_rules().language
    text = normalize_step("Atelectasis: the report doesn't describe any collapse, so atelectasis isn't present.")
    assert "does not" in text and "is not" in text
    clauses = split_clauses(text, lang)
    assert [c.kind for c in clauses][0] == "heading"
    last = clauses[-1]
    start = text.index("atelectasis is not")
    assert clause_polarity(last, start, start + len("atelectasis"), lang) == "negative"
    plan = split_clauses("Four candidates here: hernia, mass and fibrosis.", lang)
    assert {c.kind for c in plan} == {"meta"}


def test_read_facts_attributes():
    rules = load_step_rules()
    f = read_facts("A 1.2 cm nodule in the right upper lobe, new since the prior, and two granulomas.",
                   rules.vocabulary, rules.language, rules.severity_groups)
    assert ("1.2", "cm") in f.numbers and ("2", "count") in f.numbers
    assert f.sides == {"right"} and f.places["lobe"] == {"upper"}
    assert "new" in f.temporal and "lesion" in f.classes


EDITED = Report(report_id="r4", text=(
    "FINDINGS: Right chest port catheter tip projects over the SVC. Stable mild cardiomegaly. "
    "Small left pleural effusion.\nIMPRESSION: Moderate left pleural effusion."))


@pytest.mark.parametrize("step,reason", [
    ("Right chest port catheter tip projects over the right atrium.", "location_conflict"),
    ("New mild cardiomegaly.", "temporal_conflict"),
])
def test_an_edited_copy_of_a_report_sentence_is_caught(validator, step, reason):
    [result] = judge(validator, [step], report=EDITED)
    assert not result.label and reason in result.reasons


def test_a_synonym_in_an_edited_copy_is_not_an_error(validator):
    [result] = judge(validator, ["Unchanged mild cardiomegaly."], report=EDITED)
    assert result.label, result.reasons


def test_a_word_for_word_quote_is_supported_whatever_else_the_report_says(validator):
    # the findings say "small", the impression "moderate": quoting either sentence is faithful
    [result] = judge(validator, ["Small left pleural effusion."], report=EDITED)
    assert result.label and result.verdict == "supported"
    [ev] = result.evidence
    assert EDITED.text[ev.start:ev.end] == ev.text == "Small left pleural effusion."


# A made-up report in IU style (de-identified words as XXXX) for the rules of stop 17.
REPORT_17 = Report(report_id="r17", comparison="None.", indication="Follow-up of pneumonia 3 weeks ago.", text=(
    "FINDINGS: The trachea is midline. There is elevation of the left hemidiaphragm. Prominence of the pulmonary "
    "vasculature. The lungs are mildly hypoinflated but clear of focal airspace disease. Left midlung opacity XXXX "
    "atelectasis. Right mid lung nodule; this is noncalcified. Numerous small surgical clips over the lower neck. "
    "Deformity of the posterior 8th rib. Lucency through the posterior 9th rib. There are T-spine osteophytes.\n"
    "IMPRESSION: Probable left midlung atelectasis. Comparison with a prior radiograph would be helpful to "
    "establish stability of the nodule."))


STOP17_ERRORS = [
    ("The hemidiaphragms are at normal height.", "negation_conflict"),
    ("The pulmonary vessels are normal in caliber.", "negation_conflict"),
    ("The lungs are markedly hypoinflated, though without focal airspace disease.", "severity_conflict"),
    ("The left midlung opacity is definitely atelectasis.", "uncertainty_overstated"),
    ("The nodule is stable compared with the prior radiograph.", "temporal_conflict"),
    ("There is a nodule in the right mid lung. It is densely calcified.", "negation_conflict"),
    ("The trachea is shifted slightly to the right.", "negation_conflict"),
    ("There are two surgical clips over the lower neck.", "ungrounded_number"),
]
STOP17_FAITHFUL = [
    "Okay, checking the costophrenic angles for effusion.",
    "The left hemidiaphragm is elevated relative to the right.",
    "There are deformities of the posterior 8th and 9th ribs.",
    "The patient had pneumonia 3 weeks ago, so I'm looking for residual airspace disease.",
    "A CT of the chest is suggested for further evaluation.",
    "The rib changes are old, so they are not an acute injury.",
    "The atelectasis is probable but not definite.",
]


REPORT_18 = Report(report_id="r18", comparison="Chest radiograph last year.", indication="Cough.", text=(
    "FINDINGS: Low lung volumes without focal consolidation. Mildly increased interstitial markings. Exaggerated "
    "thoracic kyphosis. Mildly prominent pulmonary vascularity. Heart size is normal. Bibasilar atelectasis versus "
    "scarring. Surgical clips in the right upper quadrant, perhaps from cholecystectomy. Stable tortuosity of the "
    "thoracic aorta. Small bilateral pleural effusions, right worse than left, unchanged. Calcified granulomas seen "
    "bilaterally. Deformity of the left clavicle compatible with remote trauma. Wedging of two midthoracic vertebral "
    "bodies. Stable thoracolumbar retrolisthesis. Old left rib fractures. Hilar adenopathy compatible with known "
    "sarcoidosis. Right basilar opacity may represent atelectasis.\n"
    "IMPRESSION: No acute cardiopulmonary abnormality."))


STOP18_ERRORS = [
    ("The lungs are well expanded bilaterally.", "negation_conflict"),
    ("The lungs are hyperinflated.", "severity_conflict"),
    ("The interstitial markings are normal, and there is no focal consolidation.", "negation_conflict"),
    ("The thoracic curvature is normal.", "negation_conflict"),
    ("The pulmonary vasculature is normal.", "negation_conflict"),
    ("The linear opacities at both bases represent chronic scarring.", "uncertainty_overstated"),
    ("There is atelectasis at both bases; there is no scarring.", "uncertainty_dismissed"),
    ("These clips are from the patient's cholecystectomy.", "uncertainty_overstated"),
    ("The thoracic aorta has become more tortuous than on the comparison study.", "temporal_conflict"),
    ("Comparing with the prior study, the tortuosity of the aorta has clearly enlarged.", "temporal_conflict"),
    ("The right effusion appears larger than on the prior film.", "temporal_conflict"),
    ("There is a calcified granuloma in the right lung.", "laterality_conflict"),
    ("The bony thorax, including the clavicles, is unremarkable.", "negation_conflict"),
    ("The thoracic spine has normal vertebral body heights.", "negation_conflict"),
    ("The retrolisthesis has progressed compared with the prior exam.", "temporal_conflict"),
    ("The left rib fractures appear recent.", "temporal_conflict"),
    ("The hilar adenopathy proves the diagnosis of sarcoidosis.", "uncertainty_overstated"),
    ("The right basilar opacity is unmistakably atelectasis.", "uncertainty_overstated"),
]
STOP18_FAITHFUL = [
    "Lung volumes are low.",
    "There is accentuation of the interstitial markings, mild in degree.",
    "The thoracic kyphosis is exaggerated.",
    "The heart is normal in size, and the lungs are not hyperinflated.",
    "The basilar opacities may be atelectasis or scarring.",
    "Scarring is one of the two explanations offered for the basilar opacities.",
    "The clips might be from a cholecystectomy.",
    "The effusions are small, worse on the right, and unchanged from the prior.",
    "The patient has a cough, so the concern is pneumonia.",
    "Free air is best seen as a lucent crescent under the hemidiaphragms on an upright film.",
    "The right clavicle is intact.",
    "The right hemidiaphragm sits higher than normal.",
    "The hilar adenopathy is compatible with the known sarcoidosis.",
    "Apical opacities can be due to infection, scarring or overlapping bone.",
    "Lesions under 3 cm are called nodules; larger ones are called masses.",
]


@pytest.mark.parametrize(
    "report,step,reason", [(REPORT_17, *e) for e in STOP17_ERRORS] + [(REPORT_18, *e) for e in STOP18_ERRORS]
)
def test_open_vocabulary_errors_of_stops_17_18(validator, report, step, reason):
    # stop 18: attribute states (step_language.states), one of two readings stated or denied, boosters
    results = judge(validator, [step], report=report)
    assert any(not r.label and reason in r.reasons for r in results), [(r.step, r.reasons) for r in results]


@pytest.mark.parametrize(
    "report,step", [(REPORT_17, s) for s in STOP17_FAITHFUL] + [(REPORT_18, s) for s in STOP18_FAITHFUL]
)
def test_faithful_steps_of_stops_17_18_pass(validator, report, step):
    results = judge(validator, [step], report=report)
    assert all(r.label for r in results), [(r.step, r.reasons) for r in results]


REPORT_19 = Report(report_id="r19", comparison="None.", indication="Line placement.", text=(
    "FINDINGS: The left upper extremity PICC tip is in the mid SVC. There is a XXXX-A-XXXX terminating at the "
    "cavoatrial junction, without pneumothorax. Status post XXXX sternotomy XXXX. The cardiac XXXX generator "
    "overlies the left chest. There is an IVC XXXX. Aortic vascular calcifications. Normal pulmonary vascularity. "
    "Heart size and mediastinal contours are within normal limits. Low lung volumes with patchy basilar atelectasis. "
    "In the left lower lobe there is a 1 cm nodule that is not calcified. Surgical clips in the upper abdomen. "
    "No focal consolidation, large pleural effusion or pneumothorax.\n"
    "IMPRESSION: No acute disease."))

STOP19_ERRORS = [
    ("Surgical clips are seen in the lower neck.", "location_conflict"),
    # a filled gap grounds the word, not a thing the report does not have, nor another side or place
    ("There is an aortic valve prosthesis.", "finding_not_in_report"),
    ("There is a right-sided pacemaker generator.", "laterality_conflict"),
    ("Patchy atelectasis is seen at the apices.", "location_conflict"),
]
STOP19_FAITHFUL = [
    # the word the report's de-identified word hides, named by its neighbour
    "A Port-A-Cath terminates at the cavoatrial junction, and there is no pneumothorax.",
    "Sternotomy wires are present.",
    "A pacemaker generator overlies the left chest.",
    "An IVC filter is seen.",
    # a limb is no region of the chest
    "There's also a PICC from the left arm with its tip in the mid SVC.",
    # the report calls the vessels normal itself
    "Pleural effusions and pneumothoraces are absent, and pulmonary vascularity is normal.",
    # a list before its shared verb; a list a negation governs to its end
    "Consolidation, pleural effusion, and pneumothorax are all reported as negative.",
    "I don't see focal consolidation, a large effusion, or a pneumothorax.",
    # a negation does not reach past "after"; the clinical concern
    "The lungs are clear of consolidation, with no pneumothorax after line placement.",
    "Given the lines, pneumothorax is an important complication to exclude.",
    # an option letter, and an answer after the copy
    "C) Pneumothorax: the report says there is no pneumothorax.",
    "D) Cardiomegaly: heart size and mediastinal contours are within normal limits, so no.",
    # a relative clause denying an attribute; the noun and adjective of one place
    "In the left lower lobe there is a nodule about 1 cm across that is not calcified.",
    "Lung volumes are low, with patchy atelectasis at the bases.",
]


REPORT_19B = Report(report_id="r19b", comparison="Chest radiograph last year.", indication="Cough.", text=(
    "FINDINGS: The mediastinum is stable. The heart is top normal in size. The trachea is midline. Chronic blunting "
    "of both costophrenic angles. Lungs are hyperexpanded without focal consolidation. Mild cardiomegaly and "
    "tortuous aorta. Nodular opacity over the left upper lung may represent an overlying telemetry lead.\n"
    "IMPRESSION: Probable right lower lobe pneumonia."))

STOP19B_ERRORS = [
    # a change told by a comparative or by "has changed"
    ("The mediastinum looks slightly wider than on the prior film.", "temporal_conflict"),
    ("The mediastinal contour has changed since the prior study.", "temporal_conflict"),
    # a state affirmed before a denial or a hedge; trachea and costophrenic angles as attribute states
    ("The lungs are of normal volume and show no focal consolidation.", "negation_conflict"),
    ("The trachea is shifted slightly to the right, probably from volume loss.", "negation_conflict"),
    ("Both costophrenic angles are sharp.", "negation_conflict"),
    # the course of a vessel is an aspect tortuosity bears on
    ("The aorta is normal in course and caliber.", "negation_conflict"),
    # a booster over a hedged sentence no step clause aligns with in full
    ("That's definite lobar pneumonia.", "uncertainty_overstated"),
    ("This density is clearly an overlying telemetry lead.", "uncertainty_overstated"),
]
STOP19B_FAITHFUL = [
    "The mediastinum has not changed since the prior study.",
    "The trachea is midline.",
    "The costophrenic angles are blunted on both sides.",
    "The nodular opacity may be a telemetry lead.",
    "The lungs are hyperexpanded, and there is no consolidation.",
]


REPORT_19C = Report(report_id="r19c", comparison="Chest radiograph last year.", indication="Follow-up.", text=(
    "FINDINGS: Interval decrease in right middle and right lower lobe opacification. Degenerative changes of the "
    "acromioclavicular joints. Changes of right mastectomy.\n"
    "IMPRESSION: Improving right lung opacities."))

STOP19C_ERRORS = [
    # lobes named with one "lobes" ("right upper and right lower lobes"); joints as a place family; "post-surgical"
    # names no thing, so the mastectomy aligns on its own word
    ("The opacification of the right upper and right lower lobes has decreased.", "location_conflict"),
    ("There are degenerative changes at both glenohumeral joints.", "location_conflict"),
    ("There are post-surgical changes from a left mastectomy.", "laterality_conflict"),
]
STOP19C_FAITHFUL = [
    "The opacification of the right middle and lower lobes has decreased.",
    "The acromioclavicular joints show degenerative change.",
    "There are post-surgical changes from a right mastectomy.",
]


@pytest.mark.parametrize(
    "report,step,reason",
    [(REPORT_19, *e) for e in STOP19_ERRORS]
    + [(REPORT_19B, *e) for e in STOP19B_ERRORS]
    + [(REPORT_19C, *e) for e in STOP19C_ERRORS],
)
def test_open_vocabulary_errors_of_stop_19(validator, report, step, reason):
    results = judge(validator, [step], report=report)
    assert any(not r.label and reason in r.reasons for r in results), [(r.step, r.reasons) for r in results]


@pytest.mark.parametrize(
    "report,step",
    [(REPORT_19, s) for s in STOP19_FAITHFUL]
    + [(REPORT_19B, s) for s in STOP19B_FAITHFUL]
    + [(REPORT_19C, s) for s in STOP19C_FAITHFUL],
)
def test_faithful_steps_of_stop_19_pass(validator, report, step):
    results = judge(validator, [step], report=report)
    assert all(r.label for r in results), [(r.step, r.reasons) for r in results]


REPORT_20 = Report(report_id="r20", text=(
    "FINDINGS: Right central venous line has been removed. Diffuse, right greater than left, interstitial "
    "opacities. No pneumothorax.\nIMPRESSION: Bilateral interstitial opacities."))

STOP20_ERRORS = [
    # markdown emphasis does not glue a heading to the sentence after it; a fact after a plan and a colon is a fact
    ("**Step 2: Review the findings.** The report describes diffuse interstitial opacities, left greater than right.",
     "laterality_conflict"),
    ("I'll start with lines and tubes: a right-sided central venous line is still in place.", "negation_conflict"),
]
REPORT_20B = Report(report_id="r20b", text="FINDINGS: Middle lobe calcified granulomas. Lingular atelectasis.")
STOP20B_ERRORS = [
    # only the right lung has a middle lobe, only the left a lingula
    ("There is a calcified granuloma in the lingula.", "laterality_conflict"),
    ("There is atelectasis in the middle lobe.", "laterality_conflict"),
]
STOP20B_FAITHFUL = [
    "There are calcified granulomas in the right middle lobe.",
    "There is atelectasis in the lingula of the left lung.",
]
STOP20_FAITHFUL = [
    "**Step 2: Review the findings.** The report describes diffuse interstitial opacities, right greater than left.",
    "I'll start with lines and tubes: the right central venous line has been removed.",
    # what follows the colon is still the plan when it is a list or the question
    "I'll check each option: pneumothorax, effusion and edema.",
    "Step 1: Identify what the question asks: whether the report supports pneumonia.",
]


@pytest.mark.parametrize("report,step,reason", [(REPORT_20, *e) for e in STOP20_ERRORS]
                         + [(REPORT_20B, *e) for e in STOP20B_ERRORS])
def test_a_fact_after_a_plan_is_judged_and_a_lobe_has_its_side(validator, report, step, reason):
    results = judge(validator, [step], report=report)
    assert any(not r.label and reason in r.reasons for r in results), [(r.step, r.reasons) for r in results]


@pytest.mark.parametrize("report,step", [(REPORT_20, s) for s in STOP20_FAITHFUL]
                         + [(REPORT_20B, s) for s in STOP20B_FAITHFUL])
def test_a_plan_and_its_faithful_fact_pass(validator, report, step):
    results = judge(validator, [step], report=report)
    assert all(r.label for r in results), [(r.step, r.reasons) for r in results]


REPORT_21 = Report(report_id="r21", text=(
    "FINDINGS: Surgical clips over the left lung apex and over the right upper quadrant of the abdomen. "
    "Patchy opacities in the left and right mid lung zones. Lingular scarring or atelectasis. Calcified hilar lymph "
    "nodes. No consolidation. No pleural effusion or pneumothorax. Mild degenerative changes of the thoracic spine."))

STOP21_ERRORS = [
    # one side put in the place the report gives the other side (the sentence has both sides, elsewhere)
    (["Surgical clips project over the right lung apex."], "laterality_conflict"),
    # sentences glued by a full stop without a space are read one by one
    (["No pleural effusion or pneumothorax.Marked degenerative changes of the thoracic spine."], "severity_conflict"),
    # a step that borrows both readings from the step before and keeps one
    (["There is scarring or atelectasis in the lingula.", "This represents old scarring."], "uncertainty_overstated"),
]
STOP21_FAITHFUL = [
    ["Surgical clips are seen over the left lung apex."],
    ["There are opacities in both the right and left mid lung zones."],
    ["No pleural effusion or pneumothorax.Mild degenerative changes of the thoracic spine."],
    ["There is scarring or atelectasis in the lingula.", "This may represent old scarring."],
    # "not an acute process" says nothing of the process it names as an example
    ["The calcified nodes are not an acute process like pneumonia."],
    ["The lingular changes are not acute processes."],
]


REPORT_22 = Report(report_id="r22", text=(
    "FINDINGS: Stable cardiomegaly with small but increasing right pleural effusion. Stable mediastinal contours. "
    "Aorta is calcified and tortuous, compatible with atherosclerosis. Patchy left lower lobe opacity compatible "
    "with pneumonia. Calcified granulomas are noted. Suture anchors over the left humeral head. Dual-chamber "
    "pacemaker with leads in the right atrium and right ventricle. Trachea is midline. "
    "IMPRESSION: Negative for pneumothorax, consolidation, or pleural thickening."))

STOP22_ERRORS = [
    # the change a list sentence states of each finding: stable heart, increasing effusion
    (["The cardiomegaly has worsened since the prior study."], "temporal_conflict"),
    (["The mediastinal contours have widened compared with the prior study."], "temporal_conflict"),
    # a stretch of a list sentence, and the stretch of a long clause that calls the thing normal
    (["The aorta is normal."], "negation_conflict"),
    (["The mediastinal contours are stable and the aorta is normal in caliber."], "negation_conflict"),
    # a booster over a word the report only reads ("compatible with")
    (["This is definitely pneumonia."], "uncertainty_overstated"),
    (["The opacity definitively represents a bacterial pneumonia."], "uncertainty_overstated"),
    # a count the report never gives
    (["Two calcified granulomas are present."], "ungrounded_number"),
    # a long one-sided clause that aligns with nothing in full
    (["Over the right humeral head there are small metallic suture anchors from a prior rotator cuff repair."],
     "laterality_conflict"),
    # a named past illness or an old fracture the report never mentions is still made up
    (["The calcified granulomas are healed tuberculosis."], "finding_not_in_report"),
    (["There is an old healed fracture of the left sixth rib."], "finding_not_in_report"),
]
STOP22_FAITHFUL = [
    ["The right pleural effusion has increased since the prior study."],
    ["The cardiomegaly is stable."],
    ["The trachea is normal."],
    ["Pneumothorax is reported as negative."],
    ["The left lower lobe opacity is compatible with pneumonia."],
    ["There are calcified granulomas."],
    ["There are two views of the chest."],
    ["The pacemaker has two leads."],  # ("Dual-chamber pacemaker")
    ["The heart is enlarged and the trachea is normal."],
    ["Over the left humeral head there are small metallic suture anchors from a prior rotator cuff repair."],
    # the generic sequel granulomas are read as
    ["The calcified granulomas reflect old, healed infection."],
    ["The granulomas are unrelated to any active infection."],
]


REPORT_23 = Report(report_id="r23", text=(
    "FINDINGS: The heart is normal in size and stable. A few bandlike opacities are present which are XXXX to "
    "represent small areas of scarring or atelectasis. There is an apparent deformity of the right humeral neck. "
    "This is not seen on the comparison. No pleural effusion or pneumothorax. Degenerative changes of the thoracic "
    "spine possibly consistent with DISH. IMPRESSION: No acute cardiopulmonary process."))

STOP23_ERRORS = [
    # one reading of "small areas of scarring or atelectasis" stated as the answer
    (["The bandlike opacities represent small areas of atelectasis."], "uncertainty_overstated"),
    # a kind of change the report states of nothing, whatever "it" is
    (["It appears slightly larger than on the prior exam."], "temporal_conflict"),
    (["Compared with the prior study, the lungs have improved."], "temporal_conflict"),
    # "This is not seen on the comparison": the deformity before it is new
    (["This deformity was already present on the comparison study."], "temporal_conflict"),
    (["Compared with the prior study, the lungs have cleared."], "temporal_conflict"),
    # "features" is no word the thing is named by: the denial aligns with the hedged DISH
    (["The thoracic spine shows degenerative change, with no features of DISH."], "uncertainty_dismissed"),
]
STOP23_FAITHFUL = [
    ["The bandlike opacities may be scarring or atelectasis."],
    ["The heart is stable compared with the prior study."],
    ["There is no new effusion or pneumothorax."],
    ["The heart is normal, so this is chronic rather than a new process."],
    ["The humeral deformity was not seen on the comparison study."],
    ["The thoracic spine changes may be DISH."],
]

REPORT_23B = Report(report_id="r23b", text=(
    "FINDINGS: Interval removal of left-sided intravenous catheter. The left hilum is retracted superiorly. "
    "Increased bilateral interstitial markings, greatest in the peripheral aspect of the left lung. "
    "There are scattered nodular opacities, XXXX calcified granulomas. There is a kyphosis and osteopenia of the "
    "thoracic spine. IMPRESSION: No pneumothorax. Left basilar atelectasis/airspace disease."))
STOP23B_ERRORS = [
    (["The right-sided intravenous catheter seen previously has been removed."], "laterality_conflict"),
    (["The left hilum is in a normal position."], "negation_conflict"),
    (["The markings are greatest in the periphery of the right lung."], "laterality_conflict"),
    # a booster over the hidden word before what the report reads the opacities as
    (["These are definitely calcified granulomas."], "uncertainty_overstated"),
    # one of two readings joined by a slash
    (["This left basal opacity is atelectasis."], "uncertainty_overstated"),
    # "otherwise" spent on the bones before the denial is no qualifier of it
    (["The bones are otherwise normally mineralized with no osteopenia."], "negation_conflict"),
]
STOP23B_FAITHFUL = [
    ["The left-sided intravenous catheter seen previously has been removed."],
    ["The left hilum is pulled upward."],
    ["The markings are greatest in the periphery of the left lung."],
    ["The nodular opacities are calcified granulomas."],
    ["The left basilar opacity is atelectasis or airspace disease."],
    ["The thoracic spine is kyphotic and osteopenic."],
]

REPORT_23C = Report(report_id="r23c", text=(
    "FINDINGS: The heart is normal. There is prominence of the central pulmonary arteries suggesting pulmonary artery "
    "hypertension. The lungs are clear. IMPRESSION: No acute process."))
STOP23C_ERRORS = [
    # a word the report names only under a hedge, stated plainly
    (["There is pulmonary artery hypertension."], "uncertainty_overstated"),
]
REPORT_23E = Report(report_id="r23e", text="FINDINGS: The heart size is normal. Stable calcified granuloma within the "
                                            "lingula. There are no nodules or masses.")
STOP23E_ERRORS = [
    # "According to the report" names nothing: "they" are the granulomas of the step before
    (["There is a calcified granuloma.", "According to the report, they lie in the right middle lobe."],
     "laterality_conflict"),
]
STOP23E_FAITHFUL = [
    ["There is a calcified granuloma.", "According to the report, it lies in the lingula."],
]
STOP23C_FAITHFUL = [
    ["The central pulmonary arteries are prominent, which suggests pulmonary hypertension."],
    ["The heart is normal and the lungs are clear."],
]


# (report, steps, reason the last step must be flagged with) and (report, steps all faithful)
OPEN_VOCABULARY_ERRORS = (
    [(REPORT_21, *case) for case in STOP21_ERRORS]
    + [(REPORT_22, *case) for case in STOP22_ERRORS]
    + [(REPORT_23, *case) for case in STOP23_ERRORS]
    + [(REPORT_23B, *case) for case in STOP23B_ERRORS]
    + [(REPORT_23C, *case) for case in STOP23C_ERRORS]
    + [(REPORT_23E, *case) for case in STOP23E_ERRORS]
)
OPEN_VOCABULARY_FAITHFUL = (
    [(REPORT_21, s) for s in STOP21_FAITHFUL]
    + [(REPORT_22, s) for s in STOP22_FAITHFUL]
    + [(REPORT_23, s) for s in STOP23_FAITHFUL]
    + [(REPORT_23B, s) for s in STOP23B_FAITHFUL]
    + [(REPORT_23C, s) for s in STOP23C_FAITHFUL]
    + [(REPORT_23E, s) for s in STOP23E_FAITHFUL]
)


@pytest.mark.parametrize("report,steps,reason", OPEN_VOCABULARY_ERRORS)
def test_sides_places_changes_readings_and_counts_are_checked(validator, report, steps, reason):
    last = judge(validator, steps, report=report)[-1]
    assert not last.label and reason in last.reasons, (last.step, last.reasons)


@pytest.mark.parametrize("report,steps", OPEN_VOCABULARY_FAITHFUL)
def test_faithful_sides_places_changes_and_readings_pass(validator, report, steps):
    results = judge(validator, steps, report=report)
    assert all(r.label for r in results), [(r.step, r.reasons) for r in results]


def test_without_denies_its_own_phrase_only(validator):
    # the adjective before "nodes" does not name the denied consolidation, and the verb after the phrase ends it
    claims = {(c.observation, c.assertion) for c in
              validator.step_claims("Calcified nodes without consolidation fit old granulomatous disease.")}
    assert ("consolidation", "negative") in claims
    assert ("calcification", "negative") not in claims
    assert ("granuloma", "positive") in claims
    kept = {(c.observation, c.assertion)
            for c in validator.step_claims("There is cardiomegaly without pulmonary edema.")}
    assert kept == {("cardiomegaly", "positive"), ("edema", "negative")}


def test_a_denial_of_any_size_dismisses_what_the_report_denies_only_in_part(validator):
    # "No large pleural effusion" leaves a small one open: a step ruling out every effusion dismisses it, a plain
    # "no effusion" restates it, and a plain denial elsewhere in the report settles it
    partial = Report(report_id="r21b", text="FINDINGS: Heart size normal. No pneumothorax or large pleural effusion.")
    for step in ["This rules out a pleural effusion of any size.", "Pleural effusion is ruled out entirely.",
                 "No pneumothorax is present, and the report excludes any pleural effusion."]:
        result = judge(validator, [step], report=partial)[0]
        assert not result.label and "uncertainty_dismissed" in result.reasons, (step, result.reasons)
    for step in ["There is no pleural effusion.", "There is no pneumothorax at all.",
                 "No large pleural effusion at all."]:
        assert judge(validator, [step], report=partial)[0].label, step
    plain = Report(report_id="r21c", text="FINDINGS: No large pleural effusion. No pleural effusion. No pneumothorax.")
    assert judge(validator, ["This rules out a pleural effusion of any size."], report=plain)[0].label


def test_a_denied_device_of_another_kind_is_no_conflict(validator):
    # the word before "tube" / "line" names the kind (step_rules.json `device_kinds`): "no chest tube" says nothing
    # against an NG tube, but still contradicts a chest tube, and "no lines or tubes" contradicts any
    others = Report(report_id="r21d", text="FINDINGS: Left PICC line and NG tube remain in place. The lungs are clear.")
    chest = Report(report_id="r21e", text="FINDINGS: Right chest tube in place. The lungs are clear.")
    for step in ["No chest tube is seen.", "No tracheostomy tube is present.",
                 "No pacemaker or chest tube is described."]:
        assert judge(validator, [step], report=others)[0].label, step
    for step, report in [("No NG tube is seen.", others), ("No PICC line is seen.", others),
                         ("No lines or tubes are present.", others), ("No chest tube is seen.", chest)]:
        result = judge(validator, [step], report=report)[0]
        assert not result.label and "negation_conflict" in result.reasons, (step, result.reasons)


def test_a_gap_is_filled_only_by_the_word_beside_it():
    from radprm.validators.sentences import fills_gap

    validator = StepValidator()
    sentences = validator.report_sentences(REPORT_19)
    vocab = validator.rules.vocabulary
    assert fills_gap("filter", "An IVC filter is seen.", sentences, vocab)
    assert fills_gap("pacemaker", "A pacemaker generator overlies the chest.", sentences, vocab)
    # the neighbour must stand right beside the gap, and the gap must be affirmed
    assert not fills_gap("filter", "A caval filter is seen.", sentences, vocab)
    denied = Report(report_id="r", text="FINDINGS: No IVC XXXX.")
    assert not fills_gap("filter", "An IVC filter is seen.", validator.report_sentences(denied), vocab)


def test_a_state_said_within_normal_limits_is_normal(validator):
    # "vascular engorgement appear within limits of normal" calls the vessels normal; a report that calls a thing
    # normal itself is not contradicted by a step calling it normal
    report = Report(report_id="r18b", text=(
        "FINDINGS: Heart size and pulmonary vascular engorgement appear within limits of normal. Calcified right hilar "
        "lymph nodes. The hilar and mediastinal contours are normal. Low lung volumes; heart size within normal limits."
    ))
    steps = [
        "The pulmonary vessels are within normal limits.", "The hilar contours are normal.", "The lung volumes are low."
    ]
    results = judge(validator, steps, report=report)
    assert all(r.label for r in results), [(r.step, r.reasons) for r in results]


def test_crowded_bronchovascular_markings_are_bronchovascular_crowding(validator):
    # "crowding of the bronchovascular markings" restates "bronchovascular crowding": no interstitial markings claim
    report = Report(report_id="r18d", text="FINDINGS: The lung volumes are low with bronchovascular crowding.")
    step = "The findings state that the lung volumes are low, with crowding of the bronchovascular markings."
    assert not validator.step_claims(step)
    assert judge(validator, [step], report=report)[0].label


def test_a_state_the_report_denies_is_a_negation_conflict(validator):
    report = Report(report_id="r18c", text="FINDINGS: There is no pulmonary vascular congestion. Low lung volumes.")
    bad = judge(validator, ["The pulmonary vessels look congested."], report=report)[0]
    good = judge(validator, ["The pulmonary vasculature is normal."], report=report)[0]
    assert not bad.label and "negation_conflict" in bad.reasons, bad
    assert good.label, good


def test_a_global_mention_read_as_affirmed_names_no_finding(validator):
    # "normal chest" / "no acute cardiopulmonary disease" only say what is absent: "leads overlie the chest" (after
    # a clause that negates) is no claim of consolidation, effusion or pneumothorax; a chest tube still is a device
    claims = validator.step_claims(
        "The lungs are well inflated without consolidation, the heart is unremarkable, and leads overlie the chest."
    )
    assert not [c for c in claims if c.mention == "chest"], claims
    assert any(c.observation == "support_device" for c in validator.step_claims("A right chest tube is in place."))


def test_the_step_rules_version_follows_the_rule_file(tmp_path):
    """A mining job is pinned to the labelling version: an edited rule file must change it."""
    from importlib import resources

    packaged = load_step_rules()
    copy = tmp_path / "step_rules.json"
    copy.write_bytes(resources.files("radprm.validators").joinpath("step_rules.json").read_bytes())
    assert load_step_rules(copy).version == packaged.version  # same bytes, same code: same version
    copy.write_text(copy.read_text().replace('"maintained"', '"well maintained"', 1))  # edited in place
    edited = load_step_rules(copy).version
    assert edited != packaged.version
    assert edited.split("+")[0] == packaged.version.split("+")[0]  # the declared version is kept in front


def test_a_booster_stands_where_the_report_states_the_finding_plainly(validator):
    report = Report(report_id="r22b", text="FINDINGS: Left lower lobe pneumonia. IMPRESSION: Opacity compatible with "
                                            "pneumonia.")
    results = judge(validator, ["This is definitely pneumonia."], report=report)
    assert results[0].label, results[0].reasons


def test_a_borderline_heart_stated_as_enlarged_is_overstated(validator):
    report = Report(report_id="r22c", text="FINDINGS: The heart is borderline in size. The lungs are clear. "
                                            "IMPRESSION: Borderline cardiomegaly.")
    bad = judge(validator, ["The heart is enlarged."], report=report)[0]
    assert not bad.label and "uncertainty_overstated" in bad.reasons, bad.reasons
    kept = judge(validator, ["The heart is borderline in size.", "There is borderline cardiomegaly."], report=report)
    assert all(r.label for r in kept), [(r.step, r.reasons) for r in kept]
    plain = Report(report_id="r22d", text="FINDINGS: Borderline heart size. IMPRESSION: Mild cardiomegaly.")
    assert judge(validator, ["The heart is enlarged."], report=plain)[0].label  # stated plainly somewhere


def test_a_thing_seen_again_vouches_for_no_size_beside_a_measured_change(validator):
    report = Report(report_id="r22e", text="FINDINGS: The pulmonary fibrosis appears slightly increased compared to "
                                            "the previous examination. IMPRESSION: Redemonstrated pulmonary fibrosis.")
    bad = judge(validator, ["The fibrotic pattern looks about the same as on the previous examination."],
                report=report)[0]
    assert not bad.label and "temporal_conflict" in bad.reasons, bad.reasons
    kept = judge(validator, ["The fibrosis is redemonstrated.", "The fibrosis has slightly increased."], report=report)
    assert all(r.label for r in kept), [(r.step, r.reasons) for r in kept]


def test_a_hedged_finding_disregarded_is_dismissed(validator):
    report = Report(report_id="r23d", text="FINDINGS: The heart is normal. There is an opacity in the right midlung "
                                            "which may represent pneumonia. The lungs are otherwise clear.")
    bad = judge(validator, ["Pneumonia can be safely disregarded."], report=report)[0]
    assert not bad.label and "uncertainty_dismissed" in bad.reasons, bad.reasons
    assert judge(validator, ["The opacity may be pneumonia."], report=report)[0].label


def test_a_removal_on_the_other_side_needs_the_same_thing_not_just_the_verb(validator):
    report = Report(report_id="r23f", text="FINDINGS: The left-sided catheter has been withdrawn. The heart is normal.")
    sentences = validator.report_sentences(report)
    vocab, lang = validator.rules.vocabulary, validator.rules.language

    def reasons(step):
        return [f.reason for clause in validator.step_facts(step) for f in compare(clause, sentences, vocab, lang)]

    assert "laterality_conflict" in reasons("The right-sided catheter has been withdrawn.")
    # ("withdrawn" is the verb both share, not the thing: a pacemaker is not the catheter)
    assert "laterality_conflict" not in reasons("The right-sided pacemaker has been withdrawn.")


def case(text, bad, reason, kept, id, weighed=False):  # noqa: A002 (pytest's name)
    """A stop-24 case: the report, steps bad for the reason, the reason, steps that are not (`weighed`: the kept
    steps need only not carry the reason)."""
    return pytest.param(text, bad, reason, kept, weighed, id=id)


STOP24 = [
    case(
        "FINDINGS: There is stable scarring in the left midlung. T-spine osteophytes are noted. Mild degenerative "
        "disc disease of the thoracolumbar spine without acute abnormality.",
        ["Osteophytes are noted in the cervical spine, along with stable scarring in the left midlung.",
         "There is mild degenerative disc disease in the lower cervical spine, with nothing acute."],
        "location_conflict", [], id="a-thing-added-after-a-comma-is-placed-on-its-own"),
    case(
        # (a denial's list goes on after "as well as": "excludes pneumothorax, as well as effusion" denies both)
        "FINDINGS: No pneumothorax. No pleural effusion. The heart is normal.",
        [], "negation_conflict", ["It explicitly excludes pneumothorax, as well as effusion."],
        id="as-well-as-after-a-denial-continues-its-list"),
    case(
        "FINDINGS: The lungs are clear. There are diffuse degenerative changes of the spine. IMPRESSION: No acute "
        "disease.",
        ["There are degenerative changes of the cervical spine.",
         "There are degenerative changes in the lower thoracic spine."],
        # a chest film shows the thoracic spine: naming it adds nothing
        "location_not_in_report", ["There are degenerative changes of the thoracic spine."],
        id="a-spine-region-the-report-does-not-give"),
    case(
        "FINDINGS: Right IJ catheter with tip in proximal right atrium/cavoatrial junction. No pneumothorax. "
        "IMPRESSION: Right IJ catheter tip in proximal right atrium.",
        ["Following it down, the tip ends over the mid superior vena cava, well above the right atrium."],
        "location_conflict",
        ["The catheter tip ends in the right atrium, just below the cavoatrial junction.",
         "Its tip sits at the junction of the superior vena cava and the right atrium."],
        id="a-tip-against-every-tip-not-a-place-it-is-measured-from"),
    case(
        "FINDINGS: The heart is normal in size. The lungs are clear bilaterally. No pleural effusion or "
        "pneumothorax. IMPRESSION: No acute disease.",
        ["The appearance is unchanged from the previous PA and lateral radiograph.",
         "These spinal changes are unchanged from the comparison study."],
        "temporal_conflict", [], id="an-earlier-exam-named-in-more-words"),
    case(
        "FINDINGS: The heart is normal. The lungs are clear, unchanged from the prior exam. IMPRESSION: Stable chest.",
        [], "temporal_conflict", ["The appearance is unchanged from the previous PA and lateral radiograph."],
        id="unchanged-where-the-report-says-so"),
    case(
        "FINDINGS: Streaky opacities in the lung bases which may represent atelectasis or infiltrate. There is "
        "stable scarring or atelectasis in the lingula. Mild degeneration of the thoracic spine without acute bony "
        "abnormality. IMPRESSION: No pneumothorax.",
        ["These basal opacities look like atelectasis rather than infiltrate.",
         "Its appearance is clearly that of an old scar rather than atelectasis."],
        "uncertainty_dismissed",
        # a reading the report does not keep open, or a certainty set aside, is no dismissal
        ["The spine degeneration is a chronic change rather than an acute one.",
         "The opacities may be atelectasis rather than clearly infiltrate."],
        id="a-reading-set-aside-with-rather-than"),
    case(
        "FINDINGS: Minimally increased airspace opacities bilaterally, most prominent in the lung bases. Heart size "
        "is within normal limits.",
        ["The opacities are in both lungs, most prominent at the right lung base."], "laterality_conflict",
        ["The opacities are in both lungs, most prominent at the bases."], id="a-greater-side-where-places-are-ranked"),
    case(
        "FINDINGS: Normal heart size. Kyphotic degenerated osteopenic thoracic spine. The lungs are clear.",
        ["There is no kyphosis."], "negation_conflict", ["There is kyphosis of the thoracic spine."],
        id="a-denied-osis-is-the-otic-affirmed"),
    case(
        "FINDINGS: Heart size and vascularity are normal. Mild tortuosity of the aorta. No focal airspace disease or "
        "effusion. Postop changes of CABG. IMPRESSION: No acute cardiopulmonary process.",
        ["There's a cervical rib on the right, which could explain the arm numbness."], "finding_not_in_report",
        ["There are postoperative changes from the bypass surgery.",  # the lexicon's weak word, in other words
         "There is a prior frontal film for comparison."],  # the exam, not a finding
        id="a-thing-said-to-be-there-that-nothing-in-the-report-speaks-of"),
    case(
        "FINDINGS: There is mild cardiomegaly. Mildly low lung volumes. No focal consolidation, pleural effusion, or "
        "pneumothorax.",
        ["Lung volumes are markedly reduced."], "severity_conflict", ["Lung volumes are mildly reduced."],
        id="the-same-abnormal-state-at-another-grade"),
    case(
        "FINDINGS: The heart is normal. Multilevel degenerative changes of the thoracic spine. The lungs are clear.",
        ["There is degenerative change at a single level in the mid thoracic spine."], "ungrounded_number",
        ["There are degenerative changes at several levels of the thoracic spine."], id="a-single-one-for-many"),
    case(
        "FINDINGS: Cardiac and mediastinal contours are within normal limits. Atherosclerotic aorta. Thoracic "
        "spondylosis.",
        ["There's spondylosis with osteophytes in the cervical spine."], "location_conflict",
        ["There's spondylosis of the thoracic spine.", "This is a preop film before lumbar spine surgery."],
        id="a-part-of-the-spine-the-report-never-names"),
    case(
        "FINDINGS: There is a small area of scarring in the left base. Calcified granulomas seen in the posterior "
        "right lower lobe.",
        ["In the anterior right lower lobe, there are calcified granulomas."], "location_conflict",
        ["In the posterior right lower lobe, there are calcified granulomas."], id="a-place-that-opens-the-step"),
    case(
        "FINDINGS: Stable cardiomediastinal silhouette. No focal consolidation, pneumothorax or large pleural "
        "effusion. Spurring of thoracic spine.",
        ["The report doesn't mention any osteophytes or spurring of the spine."], "negation_conflict",
        ["There is no consolidation, pneumothorax or large effusion.",
         "The report doesn't mention any fracture or dislocation."],
        id="a-denial-of-several-things-denies-each"),
    case(
        "FINDINGS: A right-sided chest XXXX remains in XXXX with the distal tip at the level of the mid SVC. The "
        "lungs are clear. No pneumothorax.",
        ["No lines or tubes are mentioned in the report."], "negation_conflict",
        # one kind of tube the report does not have, or other ones, are no denial of the catheter
        ["No endotracheal tube or nasogastric tube is mentioned, so those are absent.",
         "I don't see any other tubes or lines."],
        id="lines-and-tubes-denied-where-the-report-places-a-tip"),
    case(
        "FINDINGS: Stable prominence of the cardiac apex, XXXX from ventricular hypertrophy. Mid sternotomy wires "
        "again noted. No pneumothorax.",
        ["The cardiac apex is prominent as before, but that's just positional and doesn't reflect ventricular "
         "hypertrophy."],
        "uncertainty_dismissed",
        # a cause weighed, not set, is no dismissal
        ["The prominent apex could simply be positional, or ventricular hypertrophy."],
        id="a-finding-explained-away-that-the-report-keeps-open", weighed=True),
    case(
        "FINDINGS: The lungs are mildly hyperexpanded. Some blunting of the left costophrenic angle may represent "
        "scarring or atelectasis. IMPRESSION: Minimal left basilar opacity most XXXX representing atelectasis or "
        "chronic scarring.",
        ["The report describes some blunting of the left costophrenic angle, which it attributes to scarring.",
         "The radiologist identifies this opacity as atelectasis at the left lung base."],
        "uncertainty_overstated", ["The blunting may represent scarring or atelectasis."],
        id="one-of-two-open-readings-said-to-be-the-reports"),
]


@pytest.mark.parametrize(("text", "bad", "reason", "kept", "weighed"), STOP24)
def test_stop24_step_language(validator, request, text, bad, reason, kept, weighed):
    report = Report(report_id=request.node.callspec.id, text=text)
    for r in judge(validator, bad, report=report) if bad else []:
        assert not r.label and reason in r.reasons, (r.step, r.reasons)
    for r in judge(validator, kept, report=report) if kept else []:
        assert (reason not in r.reasons) if weighed else r.label, (r.step, r.reasons)


@pytest.mark.parametrize(
    "text,fixed",
    [
        ("Compared to ___, the nodule was not seen on ___.", "Compared to ___, the nodule was not seen on ___."),
        ("__Heart:__ normal in size.", "  Heart:   normal in size."),
        ("**E. Pneumothorax:** absent.", "     Pneumothorax:   absent."),
    ],
)
def test_markdown_goes_but_a_deidentified_blank_stays(text, fixed):
    """"___" marks a de-identified word (MIMIC-CXR): it is no markdown underline, and no offset moves."""
    assert same_length_fixes(text) == fixed
    assert len(same_length_fixes(text)) == len(text)
