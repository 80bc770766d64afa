"""Shapes of natural chains the step validator reads (made-up reports written for these tests).

Each case is a step an LLM writes and the label the report calls for: image-style denials, markdown
headings, the greater side of a bilateral finding, devices named by kind, counts in words, ordinal
ranges, change over time in a report that compares with nothing, specific terms the report never words.
"""

import pytest

from radprm.schemas.records import Chain, Report
from radprm.validators.clauses import hedge_strength
from radprm.validators.steps import StepValidator

REPORTS = {
    "normal": "FINDINGS: Heart size is normal. The lungs are clear. No pleural effusion or pneumothorax. "
    "No acute bony abnormality.\nIMPRESSION: No acute cardiopulmonary disease.",
    "effusions": "FINDINGS: Compared to the prior study, bilateral pleural effusions are larger, right greater "
    "than left. Left arm PICC with tip in the mid SVC. Sternotomy wires are intact.\n"
    "IMPRESSION: Increasing bilateral effusions, right greater than left.",
    "ribs": "FINDINGS: Acute displaced fractures of the right posterior 8th through 10th ribs. Small right "
    "pleural effusion. Cervical spinal fusion hardware is partially imaged.\nIMPRESSION: Right rib fractures.",
    "nodule": "FINDINGS: There is a 1.8 cm rounded nodule in the left lower lobe. Lungs otherwise clear. "
    "Two sternotomy wires are noted.\nIMPRESSION: Left lower lobe nodule; CT recommended.",
    "lines": "FINDINGS: Right internal jugular central venous catheter with tip in the lower superior vena cava. "
    "Elevation of the right hemidiaphragm, unchanged from prior. Old healed fracture of the left lateral 8th rib. "
    "Mild degenerative changes of the thoracic spine. Large left pleural effusion with rightward mediastinal shift.",
    "healing": "FINDINGS: Compared with ___, the previously seen left lower lobe consolidation has nearly resolved. "
    "Minimal residual left basilar atelectasis. No pleural effusion.",
    "grades": "FINDINGS: Bilateral pleural effusions, left small, right moderate in size. Heart size is normal.",
    "hardware": "FINDINGS: Mild XXXX opacities at both bases, favoring atelectasis. The lungs are otherwise clear. "
    "Calcified granuloma in the left upper lobe. Biapical pleural thickening. Left humeral internal fixation XXXX is "
    "noted. No pneumothorax. The aorta is calcified and tortuous. Densities overlie the heart.\n"
    "IMPRESSION: Bibasilar atelectasis. Left pleural effusion is small.",
    "metastases": "FINDINGS: Multiple bilateral pulmonary nodules, the largest in the right lower lobe measuring 2 cm. "
    "Right internal jugular central venous catheter terminates in the mid SVC.",
    "aorta": "FINDINGS: Calcification of the aortic arch. Tortuous descending thoracic aorta. Lungs are clear.",
    "pacer": "FINDINGS: Left chest wall dual-lead pacemaker with leads in the right atrium and right ventricle.",
    "hernia": "FINDINGS: Large hiatal hernia with retrocardiac air-fluid level. Lungs are clear. No pleural effusion.",
    "resolved": "FINDINGS: The previously seen left apical pneumothorax has resolved. No pleural effusion.",
    "granulomas": "FINDINGS: Stable right lower lobe calcified granulomas. Lungs are otherwise clear.",
    "solitary": "FINDINGS: Solitary 9 mm nodule in the left lower lobe. No pleural effusion.",
    "border": "FINDINGS: Small calcified nodule projecting near the left heart XXXX, unchanged. Lungs are clear.",
    "vessels": "FINDINGS: Stable cardiomegaly. Pulmonary vasculature is persistently enlarged.",
    "hila": "FINDINGS: Comparison XXXX. Bilateral hilar enlargement. Cannot exclude sarcoidosis. 9 mm nodular "
    "opacity in the left lower lung zone. Calcified aortic knob. Small bilateral pleural effusions, right greater "
    "than left. Old healed right clavicle fracture. No acute osseous abnormality.\nIMPRESSION: Hilar enlargement.",
}


@pytest.fixture(scope="module")
def validator():
    return StepValidator()


def judged(validator, text, step, before=(), **report):
    """The StepResult of `step` over a made-up report text, at the end of a chain whose earlier steps are
    `before` (what a later "It ..." refers to)."""
    report = Report(report_id="r", text=text, **report)
    return validator.validate(Chain(chain_id="t", report_id="r", steps=[*before, step]), report).steps[-1]


def assert_judged(validator, text, step, good, reason=None, before=(), **report):
    got = judged(validator, text, step, before, **report)
    assert got.label is good, (step, got.verdict, got.reasons)
    if reason is not None:
        assert reason in got.reasons, (step, got.reasons)


def label(validator, report_key, step, **chain):
    report = Report(report_id=report_key, text=REPORTS[report_key])
    res = validator.validate(Chain(chain_id="t", report_id=report_key, steps=[step], **chain), report)
    return res.steps[0]


@pytest.mark.parametrize(
    "report,step,good",
    [
        # image-style denials and findings
        ("normal", "A pleural effusion cannot be seen.", True),
        ("normal", "I can't see a pneumothorax on this film.", True),
        ("normal", "A pneumothorax is seen at the right apex.", False),
        # markdown and "Step N:" headings are headings, not claims or numbers
        ("normal", "**Step 2: Cardiomegaly.** The heart is described as normal in size, so cardiomegaly is absent.",
         True),
        ("normal", "### Step 1: Understand the question", True),
        # the greater side of a bilateral finding
        ("effusions", "The effusions are larger on the right than on the left.", True),
        ("effusions", "There is more fluid on the left than the right.", False),
        # devices by kind: a denial of one device says nothing against another; an invented one is wrong
        ("ribs", "No sternotomy wires or pacemaker are present.", True),
        ("effusions", "There is also a right internal jugular central venous catheter.", False),
        ("effusions", "A right-sided PICC courses into the SVC.", False),
        # counts in words and ordinal ranges
        ("nodule", "Two intact sternotomy wires are seen.", True),
        ("nodule", "Seven intact sternotomy wires are seen.", False),
        ("ribs", "The right posterior 8th, 9th and 10th ribs are fractured.", True),
        ("ribs", "The right posterior 8th, 9th and 11th ribs are fractured.", False),
        # change over time claimed of a report that compares with nothing
        ("nodule", "Compared with the prior film the nodule has grown.", False),
        ("effusions", "Both effusions have increased since the prior study.", True),
        # a specific descriptor the report never words
        ("nodule", "Its margins are spiculated.", False),
        ("nodule", "Spiculated margins are worrisome for malignancy.", True),  # general knowledge
        # a change the report compares but never states of this finding
        ("hila", "This opacity is new compared with the prior studies.", False),
        ("hila", "The nodular opacity is in the left lower lung zone.", True),
        # "cannot be excluded" read back as excluded
        ("hila", "The report states that sarcoidosis is excluded.", False),
        ("hila", "Sarcoidosis cannot be excluded.", True),
        # "X-sided ... larger than the other side" against the report's greater side
        ("hila", "The left-sided effusion is slightly larger than the right.", False),
        ("hila", "The right-sided effusion is slightly larger than the left.", True),
        # the opposite of what every report sentence naming the thing says, qualifiers kept
        ("hila", "It also describes an acute osseous abnormality.", False),
        ("hila", "The aortic knob looks normal, without calcification.", False),
        ("hila", "No acute fracture is described.", True),
        ("hila", "No other nodules are described.", True),
        # rib arcs and spine regions are places; "rightward" is a side
        ("lines", "There is an old healed fracture of the left posterior 8th rib.", False),
        ("lines", "There is an old healed fracture of the left lateral 8th rib.", True),
        ("lines", "Mild degenerative changes involve the cervical spine.", False),
        ("lines", "The mediastinum is shifted to the right.", True),
        # "nearly resolved" is still there; a gerund plan is a plan
        ("healing", "The left lower lobe consolidation seen before has nearly cleared.", True),
        ("healing", "The consolidation has nearly resolved, with minimal residual atelectasis.", True),
        ("healing", "The left lower lobe consolidation has completely resolved.", False),
        ("healing", "Scanning both lungs for focal nodular opacities.", True),
        # the grade of each side of a bilateral finding
        ("grades", "Effusions on both sides, a moderate one on the left and a small one on the right.", False),
        ("grades", "Effusions on both sides, a small one on the left and a moderate one on the right.", True),
        # general knowledge, pairs, denied sides, restatements the lexicon cannot name
        ("hardware", "Emphysema can predispose to pneumothorax, but none is reported here.", True),
        ("hardware", "The calcified granuloma is not an acute finding.", True),
        ("hardware", "A calcified granuloma doesn't correspond to any of the listed options.", True),
        ("hardware", "Mild basilar opacities favor atelectasis; the rest of the lungs is clear.", True),
        ("hardware", "So both granuloma and atelectasis are reported.", True),
        ("hardware", "The effusion is one-sided rather than bilateral.", True),
        ("hardware", "There is biapical pleural thickening and a calcified granuloma in the left upper lobe.", True),
        ("hardware", "There is biapical pleural thickening and a calcified granuloma in the right upper lobe.", False),
        ("hardware", "Internal fixation hardware is noted in the left humerus.", True),
        ("hardware", "Internal fixation hardware is noted in the right humerus.", False),
        # change over time: "not present on the prior" says new; "smaller but still there" is not "resolved"
        ("healing", "The consolidation is smaller now but still there.", True),
        ("healing", "The left lower lobe consolidation has decreased but is still present.", True),
        ("resolved", "The left pneumothorax is smaller now but still there at the apex.", False),
        ("resolved", "The left pneumothorax has resolved.", True),
        # the vein a line goes through; the side of the largest of many
        ("metastases", "The right internal jugular line ends in the mid SVC.", True),
        ("metastases", "The right subclavian central line ends in the mid SVC.", False),
        ("metastases", "The largest nodule is in the right lower lobe and measures 2 cm.", True),
        ("metastases", "The largest nodule is in the left lower lobe and measures 2 cm.", False),
        ("effusions", "The right effusion is a new finding that was not present on the prior study.", False),
        # a diagnosis reached by reasoning from reported findings is an inference, not a claim read off the report
        ("effusions", "Larger effusions after sternotomy, which together with the PICC points to heart failure.", True),
        ("nodule", "A nodule like this raises concern for malignancy, which is why CT is recommended.", True),
        ("nodule", "There is also a right upper lobe mass.", False),
        # "looks like" hedges as the report's "favoring" does
        ("hardware", "There are mild opacities at both bases that look like atelectasis.", True),
        # two places of one family, each in its own report sentence
        ("aorta", "The aortic arch is calcified and the descending thoracic aorta is tortuous.", True),
        ("aorta", "The ascending aorta is calcified.", False),
        # a denial of a lead in one chamber says nothing against leads in others
        ("pacer", "No left ventricular lead either.", True),
        ("pacer", "There is no pacemaker lead.", False),
        # a blanket "lungs are clear" does not deny a thing the report describes in its own sentence
        ("hernia", "There is a large retrocardiac density with an air-fluid level, consistent with a hernia.", True),
        ("hernia", "There is a right upper lobe opacity.", False),
        # a thing called normal that the report describes as abnormal ("<thing> is <words>" sentences only)
        ("hardware", "The aorta has a normal contour.", False),
        ("hardware", "The aorta is tortuous and calcified.", True),
        ("hardware", "The heart is normal.", True),
        ("effusions", "The sternotomy wires are normal.", True),
        # the heart border a thing projects over is a place ("left heart XXXX" hides "border")
        ("border", "A calcified nodule projects near the right heart border.", False),
        ("border", "A calcified nodule projects near the left heart border.", True),
        # one thing where the report has several, several where it has one
        ("granulomas", "A single calcified granuloma is seen in the right lower lobe.", False),
        ("granulomas", "Calcified granulomas are seen in the right lower lobe.", True),
        ("solitary", "There are multiple nodules in the left lower lobe.", False),
        ("solitary", "There is a nodule in the left lower lobe.", True),
        # any "-ly" adverb before the abnormal word ("persistently enlarged")
        ("vessels", "The pulmonary vasculature is normal.", False),
        ("vessels", "The pulmonary vasculature is enlarged.", True),
        # restating the question ("We're asked...", "Question: ..., yes or no") asserts nothing
        ("normal", "We're asked whether there's a rib fracture.", True),
        ("normal", "Question: pleural effusion, yes or no.", True),
        ("normal", "There is a rib fracture.", False),
        # "X isn't among the options" classifies X; it does not deny it
        ("aorta", "The tortuous aorta isn't among the options.", True),
        # "X without Y": the cue negates Y, and ", and only ..." starts a new phrase
        ("hila", "No pneumothorax, and the impression describes hilar enlargement without effusion.", False),
        ("aorta", "There is no pleural effusion, and the impression describes calcification without edema.", True),
        ("lines", "There's no pneumothorax, and only mild degenerative change of the thoracic spine.", True),
        ("lines", "There's no pneumothorax and no degenerative change of the thoracic spine.", False),
        # examples of a category the step infers, and what a film "can miss", are reasoning, not findings
        ("hardware", "The calcified granuloma suggests a granulomatous process, such as histoplasmosis or TB.", True),
        ("hardware", "There is tuberculosis.", False),
        ("normal", "A standard chest film can miss rib fractures, so trauma findings like pneumothorax matter.", True),
        # "no fresh fracture" says nothing against an old healed one
        ("lines", "There is no fresh rib fracture.", True),
        ("lines", "There is no rib fracture.", False),
        # "two-view" counts images, not findings
        ("normal", "There's a prior two-view chest radiograph for comparison.", True),
    ],
)
def test_natural_step_shapes(validator, report, step, good):
    result = label(validator, report, step)
    assert result.label is good, (step, result.verdict, result.reasons)


def test_bare_yes_no_final_step_is_checked_against_the_answer(validator):
    chain = dict(question="Is there a pneumothorax?", options=["yes", "no"], answer=["no"])
    report = Report(report_id="normal", text=REPORTS["normal"])
    steps = ["The lungs are clear.", "There is air outside the lung, so the answer: yes."]
    res = validator.validate(Chain(chain_id="t", report_id="normal", steps=steps, **chain), report)
    assert "answer_mismatch" in res.steps[1].reasons and not res.steps[1].label


@pytest.mark.parametrize(
    "options,answer,last,good",
    [
        # a two-option question that is no yes/no question: the last step naming one option answers it
        (["normal", "abnormal"], ["normal"], "Abnormal.", False),
        (["normal", "abnormal"], ["normal"], "Because of the hyperinflation, I'd call this study abnormal.", False),
        (["normal", "abnormal"], ["normal"], "So this is a normal study.", True),
        # a lettered option named by its letter and a dash, or by its words alone
        (["A. Complete", "B. Partial", "C. None"], ["A. Complete"], "Answer: B — partial.", False),
        (["A. Complete", "B. Partial", "C. None"], ["A. Complete"], "Answer: A — complete.", True),
        (["A. New", "B. Worsened", "C. Unchanged", "D. Resolved"], ["D. Resolved"], "Answer: C — unchanged.", False),
        # an option named without its punctuation or its parenthesis
        (["Calcified, tortuous aorta", "Pneumothorax", "Granulomas"], ["Calcified, tortuous aorta", "Granulomas"],
         "Answer: calcified tortuous aorta and granulomas.", True),
        (["Calcified, tortuous aorta", "Pneumothorax", "Granulomas"], ["Calcified, tortuous aorta", "Granulomas"],
         "Answer: calcified tortuous aorta and pneumothorax.", False),
        (["Enteric (feeding) tube", "Chest tube", "Endotracheal tube"], ["Enteric (feeding) tube"],
         "Answer: enteric tube.", True),
        (["Enteric (feeding) tube", "Chest tube", "Endotracheal tube"], ["Enteric (feeding) tube"],
         "Answer: enteric tube and chest tube.", False),
        # "Present: ..." states the answer, however many options it names
        (["Closure device", "Pacemaker", "Pleural effusion"], ["Closure device"],
         "Present: closure device and pacemaker.", False),
        (["Closure device", "Pacemaker", "Pleural effusion"], ["Closure device"], "Devices present: closure device.",
         True),
        # options named in words of the step's own order ("left knee changes" for "Changes of the left knee")
        (["Mild scoliosis", "Raised left hemidiaphragm", "Thickening of the right apical pleura", "Pneumothorax"],
         ["Mild scoliosis", "Raised left hemidiaphragm", "Thickening of the right apical pleura"],
         "Step 5: Answer - mild scoliosis, raised left hemidiaphragm and right apical pleura thickening.", True),
        (["Mild scoliosis", "Raised left hemidiaphragm", "Thickening of the right apical pleura", "Pneumothorax"],
         ["Mild scoliosis", "Raised left hemidiaphragm", "Thickening of the right apical pleura"],
         "Step 5: Answer - mild scoliosis, raised left hemidiaphragm and left apical pleura thickening.", False),
        (["Surgical changes of the right hip", "Arthritis of the left knee", "Fracture"],
         ["Surgical changes of the right hip", "Arthritis of the left knee"],
         "Present: right hip surgical changes, left knee arthritis.", True),
        (["Surgical changes of the right hip", "Arthritis of the left knee", "Fracture"],
         ["Surgical changes of the right hip"], "Present: right hip surgical changes, left knee arthritis.", False),
    ],
)
def test_final_answers_of_two_option_and_lettered_questions(validator, options, answer, last, good):
    report = Report(report_id="normal", text=REPORTS["normal"])
    chain = Chain(chain_id="t", report_id="normal", question="Which applies?", options=options, answer=answer,
                  steps=["The lungs are clear.", last])
    step = validator.validate(chain, report).steps[1]
    assert step.label is good, (last, step.reasons)
    assert ("answer_mismatch" in step.reasons) is (not good)


def test_last_step_naming_an_option_answers_the_question(validator):
    chain = dict(question="Which side is the effusion on?", options=["left", "right", "bilateral"], answer=["right"])
    report = Report(report_id="ribs", text=REPORTS["ribs"])
    for last, good in (("So the effusion is on the left.", False), ("So the effusion is on the right.", True)):
        steps = ["The report describes a pleural effusion.", last]
        res = validator.validate(Chain(chain_id="t", report_id="ribs", steps=steps, **chain), report)
        assert res.steps[1].label is good and (("answer_mismatch" in res.steps[1].reasons) is not good)


@pytest.mark.parametrize(
    "steps,good",
    [
        # a pronoun subject carries the device; "than ideal" is a judgement of this patient, not meta
        (
            [
                "A right internal jugular catheter is present.",
                "Its tip projects over the right atrium, deeper than ideal.",
            ],
            False,
        ),
        (["A right internal jugular catheter is present.", "Its tip is in the lower SVC."], True),
        # "higher than on the prior" is a change over time, not a past clause
        (["The right hemidiaphragm is elevated.", "It sits higher than on the prior radiograph."], False),
        (["The right hemidiaphragm is elevated.", "It is unchanged from the prior radiograph."], True),
    ],
)
def test_second_step_borrows_its_subject(validator, steps, good):
    report = Report(report_id="lines", text=REPORTS["lines"])
    res = validator.validate(Chain(chain_id="t", report_id="lines", steps=steps), report)
    assert res.steps[0].label is True
    assert res.steps[1].label is good, (steps[1], res.steps[1].verdict, res.steps[1].reasons)


def test_answer_listing_options_reads_each_option_alone(validator):
    """One option's side or place does not spill onto the next ("granuloma, Left basal density")."""
    options = ["Calcified granuloma", "Pleural effusion", "Left lower lobe nodule", "Pneumothorax"]
    report = Report(report_id="g", text="FINDINGS: Calcified granuloma in the right upper lobe. 1.8 cm nodule in the "
                    "left lower lobe. No pleural effusion or pneumothorax.")
    answer = ["Calcified granuloma", "Left lower lobe nodule"]
    chain = dict(question="Which are present?", options=options, answer=answer)
    for last, good in (
        ("Final answer: Calcified granuloma, Left lower lobe nodule.", True),
        ("Calcified granuloma and Left lower lobe nodule", True),
        ("Final answer: Calcified granuloma, Pleural effusion.", False),
    ):
        res = validator.validate(Chain(chain_id="t", report_id="g", steps=["Reading the report.", last], **chain),
                                 report)
        assert res.steps[1].label is good, (last, res.steps[1].verdict, res.steps[1].reasons)


def test_finding_from_the_indication_is_history_not_a_claim(validator):
    """"The patient has bladder cancer" is grounded when the indication says so, not when it does not."""
    text = "FINDINGS: The lungs are clear. No pleural effusion.\nIMPRESSION: No active disease."
    step = "The patient has bladder cancer, so the question is about lung metastases."
    cases = (
        ("History of bladder cancer.", step, True),
        ("Chest pain.", step, False),
        # a finding placed on the film is a claim about the film, whatever the indication names
        ("Mass in axilla.", "There is a mass in the right upper lobe.", False),
    )
    for indication, text_step, good in cases:
        report = Report(report_id="h", text=text, indication=indication)
        res = validator.validate(Chain(chain_id="t", report_id="h", steps=[text_step]), report)
        assert res.steps[0].label is good, (indication, res.steps[0].verdict, res.steps[0].reasons)


def test_tip_placed_where_the_reports_only_tip_is_not(validator):
    """The report's tip sentence names no device ("PICC line is in XXXX. The tip is in the upper right atrium.")."""
    text = "FINDINGS: Lungs are clear. PICC line is in XXXX. The tip is in the upper right atrium."
    report = Report(report_id="tip", text=text)
    for last, good in (("The tip is in the SVC.", False), ("The tip is in the right atrium.", True)):
        res = validator.validate(Chain(chain_id="t", report_id="tip", steps=["A PICC line is present.", last]), report)
        assert res.steps[1].label is good, (last, res.steps[1].verdict, res.steps[1].reasons)


def test_a_report_word_sharing_seven_letters_is_not_the_finding(validator):
    """"cardiomediastinal" does not word "cardiomegaly"; "calcified" does word "calcification"."""
    report = Report(report_id="c", text="FINDINGS: Unchanged cardiomediastinal silhouette. The aorta is tortuous and "
                    "calcified. Lungs are clear.")
    for step, good in (("There is moderate cardiomegaly.", False), ("There is aortic calcification.", True)):
        res = validator.validate(Chain(chain_id="t", report_id="c", steps=[step]), report)
        assert res.steps[0].label is good, (step, res.steps[0].verdict, res.steps[0].reasons)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # the change sits in a pronoun clause after the finding
        ("FINDINGS: There is stable enlargement of the heart. Lungs are clear.",
         "The heart is enlarged, and it has increased in size since the prior radiograph.", False),
        ("FINDINGS: There is stable enlargement of the heart. Lungs are clear.",
         "The heart is enlarged, and it is unchanged since the prior radiograph.", True),
        # "resolved since the prior" where the report compares with nothing
        ("FINDINGS: No focal consolidation. No pleural effusion.",
         "The pneumonia seen on the prior exam has resolved.", False),
        ("FINDINGS: Compared with the prior, the pneumonia has resolved. No pleural effusion.",
         "The pneumonia seen on the prior exam has resolved.", True),
    ],
)
def test_change_over_time_in_natural_wording(validator, text, step, good):
    assert_judged(validator, text, step, good)


def test_report_sentence_opening_on_a_pronoun_speaks_of_the_sentence_before(validator):
    """"These are unchanged since the previous examination." in the report is about the granulomas."""
    text = ("FINDINGS: Calcified granulomata are present in the right upper lobe. These are unchanged since the "
            "previous examination. Both lungs are free of active infiltrates.")
    report = Report(report_id="p", text=text)
    first = "The report notes calcified granulomas in the right upper lobe."
    for last, good in (("They are unchanged since the previous examination.", True), ("They are new.", False)):
        res = validator.validate(Chain(chain_id="t", report_id="p", steps=[first, last]), report)
        assert res.steps[1].label is good, (last, res.steps[1].verdict, res.steps[1].reasons)


@pytest.mark.parametrize(
    "text,step,good,reason",
    [
        # "cannot be excluded" is a hedge, not a denial: the sentence still states the thing as possible
        ("FINDINGS: Increased left basilar opacity, likely atelectasis, though aspiration cannot be excluded.",
         "This opacity represents aspiration.", False, "uncertainty_overstated"),
        ("FINDINGS: Increased left basilar opacity, likely atelectasis, though aspiration cannot be excluded.",
         "Aspiration cannot be excluded.", True, None),
        # what a sentence affirms before its "without" is not denied
        ("FINDINGS: There are mildly low lung volumes without focal consolidation or effusion.",
         "Lung volumes are markedly low, but there is no focal consolidation.", False, "severity_conflict"),
        ("FINDINGS: There are mildly low lung volumes without focal consolidation or effusion.",
         "Lung volumes are mildly low, but there is no focal consolidation.", True, None),
        # rib numbers the report never gives
        ("FINDINGS: Healed left rib fractures again noted. Lungs are clear.",
         "Healed fractures of the left 5th and 6th ribs are again seen.", False, "ungrounded_number"),
        ("FINDINGS: Heart size is normal. Healed left rib fractures again noted.",
         "The first finding listed is the normal heart size.", True, None),
        # "upper limits of normal" is normal by definition
        ("FINDINGS: Heart size is upper limits of normal. Lungs are clear.",
         "Upper limits of normal is still within normal range, so this isn't cardiomegaly.", True, None),
        # "there has been development of" is new; "upper and lower lobes" names both
        ("FINDINGS: In the interval there has been development of multiple nodules in both the upper and lower "
         "lobes. The previously seen left lower lobe nodule has increased in size.",
         "In the interval, multiple nodules have developed in the upper and lower lobes of both lungs.", True, None),
        # a report sentence about everything vouches for each thing's stability
        ("FINDINGS: Right paratracheal thickening and bilateral hilar enlargement. Radiographically, the findings "
         "are grossly stable.",
         "There is right paratracheal thickening and enlargement of both hila, which look essentially the same as "
         "on prior imaging.", True, None),
        # the side a comparison measures against is not where the thing is
        ("FINDINGS: There is relative elevation of the right hemidiaphragm, without focal consolidation.",
         "The right hemidiaphragm sits relatively higher than the left.", True, None),
        # talk about the report's wording is meta
        ("FINDINGS: A tiny left apical pneumothorax cannot be excluded.",
         "That phrasing makes it a possibility rather than a confirmed finding.", True, None),
    ],
)
def test_hedges_grades_levels_and_global_statements(validator, text, step, good, reason):
    assert_judged(validator, text, step, good, reason)


@pytest.mark.parametrize(
    "indication,text,step,good",
    [
        # the indication names it (by word or by finding) and the step speaks of the patient's history
        ("MALIGNANT NEOPLASM OF THYROID GLAND", "FINDINGS: Surgical clips in the neck. Lungs are clear.",
         "The patient has a history of thyroid cancer, and the question is about surgical clips.", True),
        ("Followed right lower lobe pneumonia.", "FINDINGS: The lungs are clear. No pneumonia.",
         "The patient is being followed for pneumonia in the right lower lobe.", True),
        ("Left pleural effusion with compressive atelectasis.",
         "FINDINGS: Blunting of the left costophrenic angle which may represent a small effusion.",
         "The patient had a left pleural effusion with compressive atelectasis.", True),
        ("Osteopenia and lower rib pain.", "FINDINGS: No acute bony abnormality. Lungs are clear.",
         "The patient has osteopenia and lower rib pain after a recent event.", True),
        # a claim about the film stays one, whatever the indication
        ("Followed right lower lobe pneumonia.", "FINDINGS: The lungs are clear. No pneumonia.",
         "There is pneumonia in the right lower lobe.", False),
        # a history statement the indication does not name is judged as a claim
        ("Chest pain.", "FINDINGS: The lungs are clear. No pneumonia.",
         "The patient has a right lower lobe pneumonia.", False),
    ],
)
def test_the_patients_history_is_no_claim_about_the_film(validator, indication, text, step, good):
    assert_judged(validator, text, step, good, indication=indication)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a plan's list tail after a comma is still the plan
        ("FINDINGS: Mild cardiomegaly. IMPRESSION: Interstitial prominence, could represent mild interstitial edema.",
         "Okay, so I'll look at the heart size, the vessels and the interstitium for signs of edema.", True),
        # a heading of two findings over a denial
        ("FINDINGS: There is no pleural effusion or pneumothorax. Lungs are clear.",
         "**Pleural effusion / Pneumothorax:** Neither is present according to the report.", True),
        # "chest wall" is no global statement about the chest
        ("FINDINGS: No large pleural effusion or pneumothorax. No focal airspace disease.",
         "No visceral pleural line is visible, and lung markings extend out to the chest wall.", True),
        # "resolution of" says what "have resolved" says
        ("FINDINGS: In the interval, bibasilar interstitial infiltrates and venous engorgement have resolved.",
         "The findings describe interval resolution of the bibasilar interstitial infiltrates.", True),
        ("FINDINGS: Bibasilar interstitial infiltrates are increased.",
         "The findings describe interval resolution of the bibasilar interstitial infiltrates.", False),
        # the places of a list's items are the items' own
        ("FINDINGS: The left hilar calcified lymph nodes appear stable. There is persistence of a left lower lobe "
         "calcified nodule representing a granuloma.",
         "There are stable calcified left hilar lymph nodes and a persistent calcified nodule in the left lower "
         "lobe, most likely a granuloma.", True),
        ("FINDINGS: Right upper lobe calcified nodule. Lungs otherwise clear.",
         "There is a calcified nodule in the right upper and lower lobes.", False),
    ],
)
def test_plans_headings_and_list_items(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good,reason",
    [
        # "new" worded as absent before, against a report that calls it stable or persistent
        ("FINDINGS: Calcified granuloma in the right lower lobe is stable compared to the previous examinations.",
         "There's a calcified granuloma in the right lower lobe that wasn't present on the earlier examinations.",
         False, "temporal_conflict"),
        ("FINDINGS: There is persistence of a left lower lobe calcified nodule representing a granuloma.",
         "The calcified nodule in the left lower lobe is a new finding since that study.", False,
         "temporal_conflict"),
        ("FINDINGS: Heart and mediastinum are stable with ectasia of the aorta.",
         "The heart is stable, but there is new ectasia of the aorta that wasn't there before.", False,
         "temporal_conflict"),
        ("FINDINGS: Sternotomy sutures and coronary bypass clips remain intact. Lungs are clear.",
         "The sternotomy sutures and coronary bypass clips are new since the prior exam.", False,
         "temporal_conflict"),
        ("FINDINGS: Sternotomy sutures and coronary bypass clips remain intact. Lungs are clear.",
         "The sternotomy sutures and bypass clips are unchanged.", True, None),
        # node stations are places
        ("FINDINGS: Calcified lymph nodes are identified in the left infrahilar region.",
         "There are calcified lymph nodes in the left paratracheal region.", False, "location_conflict"),
        ("FINDINGS: Calcified lymph nodes are identified in the left infrahilar region.",
         "There are calcified lymph nodes near the left hilum.", True, None),
        # a place the report gives the thing nowhere
        ("FINDINGS: Stable scattered calcified granulomas are noted. Lungs are clear.",
         "There are calcified granulomas clustered in the right upper lobe.", False, "location_not_in_report"),
        ("FINDINGS: Stable scattered calcified granulomas are noted. Lungs are clear.",
         "Scattered calcified granulomas are noted again.", True, None),
    ],
)
def test_change_worded_as_absence_before_and_places_of_nodes(validator, text, step, good, reason):
    assert_judged(validator, text, step, good, reason)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a certainty booster over a hedged sentence
        ("FINDINGS: Overlying leads and clothing are thought to account for mild increased density at the left "
         "base.", "This density is definitely caused by the overlying leads and clothing.", False),
        ("FINDINGS: Overlying leads and clothing account for mild increased density at the left base.",
         "This density is definitely caused by the overlying leads and clothing.", True),
        # IU's sentence-initial "Question X" is a hedge
        ("FINDINGS: Question left atrial enlargement, appreciated on lateral view. Clear lungs.",
         "According to the report, left atrial enlargement is present and is appreciated on the lateral view.",
         False),
        ("FINDINGS: Question left atrial enlargement, appreciated on lateral view. Clear lungs.",
         "The impression also brings up left atrial enlargement.", True),
    ],
)
def test_boosters_and_question_hedges(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a blanket statement that excepts what was just said
        ("FINDINGS: Minimal opacity in the left lung base representing atelectasis. The lungs are otherwise clear.",
         "Apart from that, the lungs are clear and the heart is normal in size.", True),
        ("FINDINGS: Minimal opacity in the left lung base representing atelectasis. Moderate cardiomegaly.",
         "Apart from that, the lungs are clear and the heart is normal in size.", False),
        # general knowledge
        ("FINDINGS: Mild interstitial prominence. No pleural effusion.",
         "Typical radiographic signs of edema include vascular redistribution, Kerley B lines and pleural "
         "effusions.", True),
        ("FINDINGS: Mild emphysema. Lungs are clear.",
         "Chest radiography is insensitive for mild emphysema, but this report describes it.", True),
        ("FINDINGS: Compression deformity of T8. Lungs are clear.",
         "On a single radiograph it's hard to tell an acute compression deformity from an old one.", True),
        # "dual-chamber" is a kind of device, not a count
        ("FINDINGS: Left chest pacemaker with leads in the right atrium and right ventricle.",
         "Leads in the right atrium and right ventricle make this a standard dual-chamber configuration.", True),
    ],
)
def test_exceptions_general_knowledge_and_device_kinds(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        ("FINDINGS: There is a hiatal hernia, unchanged compared to the prior examination.",
         "The hernia looks larger than it did on the prior exam.", False),
        ("FINDINGS: Stable mediastinal and hilar contours. No pleural effusion.",
         "The hilar contours look slightly fuller than on the prior study.", False),
        ("FINDINGS: The hiatal hernia has increased in size compared to the prior examination.",
         "The hernia has increased since the prior exam.", True),
        ("FINDINGS: Stable cardiomegaly compared with the previous film.",
         "Compared with the previous film, the heart has become larger.", False),
    ],
)
def test_comparatives_against_the_prior(validator, text, step, good):
    assert_judged(validator, text, step, good)


def test_a_report_denial_stands_beside_a_hedge_on_a_kindred_thing(validator):
    """"Question pericardial effusion" does not make the report's own "No effusion." a dismissed doubt."""
    text = ("IMPRESSION: Cardiomegaly. Question pericardial effusion. Lungs are clear. No effusion. No typical "
            "findings of pulmonary edema.")
    for step, good in (("No effusion.", True), ("We see typical findings of pulmonary edema.", False)):
        assert_judged(validator, text, step, good)


def test_a_hyphenated_grade_range_names_its_grades(validator):
    # (the knee's severe degenerative change lets the lexicon ground "severe": the spine's grade must decide)
    text = ("FINDINGS: Mild degenerative changes throughout the thoracic spine. Right knee: severe degenerative "
            "osteophyte formation medially.")
    step = "The thoracic spine shows moderate-to-severe degenerative changes throughout."
    assert_judged(validator, text, step, False, "severity_conflict")
    assert_judged(validator, text, "The thoracic spine shows mild degenerative changes throughout.", True)


@pytest.mark.parametrize(
    "step,good",
    [
        ("I also see a calcified right hilar lymph node.", False),  # an observation, not a plan
        ("First, I'll find the description of the pleural thickening.", True),
        ("I also want to check the hila.", True),
    ],
)
def test_i_also_see_is_an_observation(validator, step, good):
    text = "FINDINGS: Calcified granuloma in the right lower lobe. Lungs otherwise clear."
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "step,good",
    [
        ("The spine isn't commented on, so we can assume it's unremarkable.", False),
        ("The report doesn't mention anything about lung volumes, so we can assume they're normal.", False),
        ("There is no mention of the heart, so I'll take it as normal.", True),  # "Heart size is normal."
        ("No pneumothorax is mentioned.", True),
    ],
)
def test_absence_by_omission_of_a_thing_the_report_describes(validator, step, good):
    text = ("FINDINGS: Heart size is normal. Low lung volumes are present. Degenerative changes of the "
            "midthoracic spine are noted. No pleural effusion.")
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a part described as abnormal makes its whole not normal
        ("FINDINGS: Lungs are clear. Degenerative endplate changes of the spine.", "The bones look unremarkable.",
         False),
        ("FINDINGS: Lungs are clear. Degenerative endplate changes of the spine.",
         "No acute osseous abnormality is seen.", True),
        # ... unless the report calls the whole normal itself, in other words ("osseous" for "bones")
        ("FINDINGS: Osseous structures are unremarkable. Degenerative endplate changes of the spine.",
         "The bones look unremarkable.", True),
        ("FINDINGS: Heart size is normal. There is stable eventration of the anterior right hemidiaphragm.",
         "The diaphragm isn't mentioned in the findings, so we can assume both hemidiaphragms are normal.", False),
        ("FINDINGS: Heart size is normal. The lungs are clear.",
         "The diaphragm isn't mentioned in the findings, so we can assume both hemidiaphragms are normal.", True),
    ],
)
def test_normal_whole_against_an_abnormal_part(validator, text, step, good):
    assert_judged(validator, text, step, good, None if good else "negation_conflict")


_ICU = ("FINDINGS: The right PICC terminates in the mid SVC, and lung volumes are low, with bibasilar opacities, "
        "most likely atelectasis; there is mild vascular congestion which is new since ___, no large pleural effusion "
        "though small effusions would be difficult to exclude, and no pneumothorax, and the heart is mildly enlarged.")
_DATED = "FINDINGS: There is a 1.2 cm nodular opacity in the right upper lobe, not seen on ___. Otherwise clear."


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a long MIMIC-style sentence denies several things between its affirmations
        (_ICU, "I don't see a pneumothorax.", True),
        (_ICU, "There is a small pneumothorax.", False),
        # an option letter before a bold heading: "E. Pneumothorax" names the heading's thing
        ("FINDINGS: Mild cardiomegaly. No pneumothorax.",
         "**E. Pneumothorax:** the report says no pneumothorax. Absent.", True),
        ("FINDINGS: Mild cardiomegaly. Small left apical pneumothorax.",
         "**E. Pneumothorax:** the report says no pneumothorax. Absent.", False),
        # what radiographs are "insensitive for" is not a finding of this film
        ("FINDINGS: No displaced rib fracture is identified, although radiographs are insensitive for nondisplaced rib "
         "fractures. The lungs are clear.", "I don't see a displaced fracture anywhere.", True),
        # a central venous catheter is another kind of device than an endotracheal tube
        ("IMPRESSION: Endotracheal tube terminates 4.5 cm above the carina. No pneumothorax.",
         "There's no mention of a central venous catheter, so we can assume there isn't one.", True),
        ("IMPRESSION: Right internal jugular central venous catheter terminates in the SVC. No pneumothorax.",
         "There's no mention of a central venous catheter, so we can assume there isn't one.", False),
        # "not seen on ___" dates a finding (the de-identified "___" is no markdown underline), it does not deny it
        (_DATED, "There's a 1.2 cm nodular opacity in the right upper lobe.", True),
        (_DATED, "There's a 1.2 cm nodular opacity in the left upper lobe.", False),
        # a negation does not reach past "after"
        ("IMPRESSION: A right internal jugular hemodialysis catheter terminates in the right atrium. No pneumothorax.",
         "There's no pneumothorax after the catheter placement.", True),
        # "I don't see A, a large B or a C": the denial governs the list to its end
        ("FINDINGS: No definite focal consolidation is seen. No large pleural effusion. No pneumothorax.",
         "I don't see a dense focal consolidation, a large effusion or a pneumothorax.", True),
        # the same denial with the subject before the cue ("bony structures reveal no acute abnormalities")
        ("FINDINGS: The visualized bony structures reveal no acute abnormalities. Lateral view reveals mild "
         "degenerative changes of the thoracic spine.", "No acute bony abnormality is seen.", True),
        # a hedge reaches to the end of its phrase: "likely hepatic hydrothorax, with ... atelectasis"
        ("IMPRESSION: Increased moderate right pleural effusion, likely hepatic hydrothorax, with right basilar "
         "compressive atelectasis.", "There's a moderate right pleural effusion with compressive atelectasis of the "
         "right base.", True),
        ("IMPRESSION: Increased moderate right pleural effusion, likely hepatic hydrothorax, with right basilar "
         "compressive atelectasis.", "The effusion is a hepatic hydrothorax.", False),
        # which one of a row ("the most caudal wire") and central vs peripheral are places
        ("FINDINGS: Stable sternotomy wires with fracture of the superior-most sternotomy wire.",
         "It notes a fracture of the inferior-most sternotomy wire.", False),
        ("FINDINGS: Stable sternotomy wires with fracture of the superior-most sternotomy wire.",
         "The uppermost sternotomy wire is fractured.", True),
        ("FINDINGS: Right internal jugular central venous catheter tip in the SVC. Peripheral interstitial opacities.",
         "The interstitial opacities are peripheral, and the central venous catheter ends in the SVC.", True),
        # what a sentence states before its hedge stays stated; "X versus Y" hedges X too
        ("FINDINGS: Compared to ___, there has been interval worsening of multifocal bilateral airspace opacities, "
         "concerning for multifocal pneumonia.", "There is interval worsening of multifocal bilateral airspace "
         "opacities.", True),
        ("FINDINGS: Compared to ___, there has been interval worsening of multifocal bilateral airspace opacities, "
         "concerning for multifocal pneumonia.", "There is multifocal pneumonia.", False),
        ("IMPRESSION: Cardiomegaly and small left pleural effusion versus pleural thickening.",
         "The left costophrenic angle is blunted by a small left pleural effusion.", False),
        # a reference range of general knowledge is no measurement of the patient
        ("FINDINGS: The endotracheal tube terminates approximately 4.5 cm above the carina.",
         "A tip 4.5 cm above the carina falls within the usual target range of about 3-5 cm.", True),
        ("FINDINGS: The endotracheal tube terminates approximately 4.5 cm above the carina.",
         "The tip is 6 cm above the carina, within the usual target range of about 3-5 cm.", False),
        # a denial's qualifier is read in the report finding's own clause
        ("IMPRESSION: No acute rib fracture identified; old healed left 7th and 8th rib fractures.",
         "No acute rib fracture is identified.", True),
        # a side called normal says nothing against the other side's finding; "both" does
        ("FINDINGS: There is blunting of the left posterior costophrenic angle, which may reflect a trace left "
         "pleural effusion versus pleural thickening.", "The right costophrenic angle is sharp.", True),
        ("FINDINGS: Consolidation in the right lower lobe. Costophrenic angle blunted on the right. Left lung clear.",
         "Both costophrenic angles are sharp.", False),
        # what a plan weighs ("a reasonable concern", "makes it harder to see") asserts nothing
        ("FINDINGS: The lungs are clear. There is no pleural effusion or pneumothorax.",
         "The patient fell, so pneumothorax from a rib injury is a reasonable concern. Let me check the report.", True),
        ("FINDINGS: Diffuse bilateral airspace opacities. No pneumothorax.", "Okay, this is a supine portable film, "
         "which makes pneumothorax harder to see, since air collects anteriorly and at the bases.", True),
        # a measured distance above or below a landmark
        ("IMPRESSION: Intra-aortic balloon pump tip projects approximately 2 cm below the top of the aortic arch.",
         "The IABP tip projects approximately 2 cm above the top of the aortic arch.", False),
        ("IMPRESSION: Intra-aortic balloon pump tip projects approximately 2 cm below the top of the aortic arch.",
         "The balloon pump tip sits about 2 cm below the top of the arch.", True),
        # what a position risks is general knowledge
        ("FINDINGS: The endotracheal tube tip is 2 cm above the carina and could be withdrawn by 2 cm.",
         "A tip only 2 cm above the carina risks right mainstem intubation with head flexion, so it's too low.", True),
        # "interval CABG" / "interval sternotomy": new since the prior exam
        ("FINDINGS: There has been interval CABG. Sternotomy wires appear intact. No focal air space opacity.",
         "The sternotomy wires were already present on the prior exam.", False),
        ("FINDINGS: There has been interval CABG. Sternotomy wires appear intact. No focal air space opacity.",
         "The CABG changes were not present on the previous study.", True),
        # a pleural line is a sign of pneumothorax, not a line (device)
        ("FINDINGS: There is a right PICC with the tip at the cavoatrial junction. There is no pneumothorax.",
         "No visible pleural line, so no pneumothorax.", True),
        # "unlikely" denies ("which makes an abscess unlikely" names no abscess)
        ("FINDINGS: The lungs are clear without consolidation. No pleural effusion.",
         "The lungs are clear without consolidation, which makes an abscess unlikely.", True),
        # the reason for a plan or a general statement is as general as what it explains
        ("FINDINGS: No definite pleural effusion seen. No pneumothorax.",
         "I'll start by checking the costophrenic angles, since that's where small effusions show up first.", True),
        ("FINDINGS: New opacity in the right lower lobe, concerning for aspiration. No pleural effusion.",
         "In adults, aspirated material often goes to the right lower lobe, because the right main bronchus is wider "
         "and more vertical.", True),
        # sharp costophrenic angles speak of fluid, not of a pneumothorax
        ("FINDINGS: The left pneumothorax has decreased in size and is now small. No pleural effusion.",
         "The costophrenic angles are sharp, so there's no effusion.", True),
        ("FINDINGS: Small left pleural effusion. No pneumothorax.", "The costophrenic angles are sharp.", False),
        ("FINDINGS: Small left pleural effusion. No pneumothorax.", "The right costophrenic angle is sharp.", True),
    ],
)
def test_mimic_style_reports(validator, text, step, good):
    assert_judged(validator, text, step, good)


def test_a_but_no_tail_denies_only_itself(validator):
    """", but no acute bony abnormality" is a denial of its own: the clause before it still asserts."""
    text = "FINDINGS: Low lung volumes with bibasilar atelectasis. No acute bony abnormalities."
    step = "There's a small soft-tissue hematoma over the left lateral chest wall, but no acute bony abnormality."
    assert_judged(validator, text, step, False, "finding_not_in_report")
    assert_judged(validator, text, "There is bibasilar atelectasis, but no acute bony abnormality.", True)


@pytest.mark.parametrize(
    "step,good",
    [
        ("Surgical staples along the right hilum from a prior lobectomy are also described.", False),
        ("There is subcutaneous emphysema along the right chest wall.", False),
        ("The heart is normal in size.", True),
    ],
)
def test_specific_terms_the_report_never_words(validator, step, good):
    text = "FINDINGS: Right lower lobectomy. Heart size normal. Lungs clear. No effusion."
    assert_judged(validator, text, step, good)


def test_a_specific_term_only_the_indication_names_is_history(validator):
    text = "FINDINGS: The lungs are clear. No pleural effusion or pneumothorax."
    step = "This is a preoperative film before lipoma excision. Let's see what the report says about the pleura."
    assert_judged(validator, text, step, True, indication="Preop lipoma excision.")
    assert_judged(validator, text, step, False, "finding_not_in_report")


@pytest.mark.parametrize(
    "step,good",
    [
        ("These are acute fractures, which explain the chest pain.", False),
        ("The left rib fractures are old and healed.", False),
        ("There are fractures of the left 4th to 6th ribs of indeterminate age.", True),
        ("There are posterior left rib fractures.", True),
        ("The fractures are age-indeterminate, so an acute fracture cannot be excluded.", True),
    ],
)
def test_an_age_indeterminate_finding_has_no_age(validator, step, good):
    text = "FINDINGS: Fractures of the posterior left 4th, 5th, and 6th ribs, age-indeterminate. Lungs are clear."
    assert_judged(validator, text, step, good)


def test_age_indeterminate_beside_a_change_decides_nothing(validator):
    text = "FINDINGS: New compression deformity of T8, age indeterminate. Lungs are clear."
    step = "Since it is age indeterminate, it was probably already present before and is unchanged."
    assert_judged(validator, text, step, False, "temporal_conflict")


@pytest.mark.parametrize(
    "step,good",
    [
        ("C and D: No focal consolidation, pneumothorax or effusion is identified. Absent.", True),
        ("There's no pneumothorax or effusion on the left.", True),
        ("No right effusion.", False),
        ("There is a small pneumothorax.", False),
    ],
)
def test_a_copied_denial_with_a_verdict_word_or_a_narrower_side(validator, step, good):
    text = "FINDINGS: No focal consolidation, pneumothorax, or effusion identified. Small right effusion."
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "step,good",
    [
        ("The patient is a 35-year-old woman; I'll check the report for any positive finding.", True),
        ("There's an 11 mm right upper lobe nodule, stable for 5 years.", False),  # the report says 3 years
        ("There's an 11 mm right upper lobe nodule, stable for 3 years.", True),
    ],
)
def test_an_age_is_no_finding_number(validator, step, good):
    text = "FINDINGS: 11 mm right upper lobe nodule, stable for 3 years. No effusion."
    assert_judged(validator, text, step, good, indication="XXXX-year-old female.")


@pytest.mark.parametrize(
    "step",
    [
        "Let's compare the two lung bases carefully, since subtle opacities are easy to miss.",
        "The soft tissues are thick and the image is somewhat limited, which can hide a small effusion.",
    ],
)
def test_general_knowledge_about_what_a_film_can_hide(validator, step):
    text = "FINDINGS: There may be a subtle airspace opacity in the right base. No pleural effusion."
    assert_judged(validator, text, step, True)


def test_a_copied_denial_narrowed_to_one_side_is_still_true(validator):
    text = "FINDINGS: The lungs are clear. There is no pneumothorax or effusion."
    assert_judged(validator, text, "There's no pneumothorax or effusion on the left.", True)
    assert_judged(validator, text, "There's a small pneumothorax on the left.", False)


@pytest.mark.parametrize(
    "step,good",
    [
        ("Degenerative changes, with small osteophytes, are seen in the lower thoracic spine.", False),
        ("Degenerative changes are seen in the mid-thoracic spine.", True),
        ("There is spondylosis of the cervical spine.", False),
    ],
)
def test_spine_region_and_level(validator, step, good):
    text = "FINDINGS: Degenerative changes of the midthoracic spine are noted. Thoracic spondylosis. Lungs are clear."
    assert_judged(validator, text, step, good)


def test_a_lobe_the_report_never_gives_though_it_gives_the_side(validator):
    text = "FINDINGS: Left lateral lung calcified granuloma. Lungs are otherwise clear."
    got = judged(validator, text, "There's a small calcified granuloma at the left lung apex.")
    assert "location_not_in_report" in got.reasons, got.reasons
    assert_judged(validator, text, "There's a calcified granuloma in the left lung.", True)


def test_a_without_tail_denies_only_itself(validator):
    text = "FINDINGS: Postsurgical changes of the right chest wall. No acute bony abnormality. Lungs clear."
    step = "There are postsurgical changes of a left mastectomy, without suspicious findings."
    assert_judged(validator, text, step, False, "finding_not_in_report")
    step = "There are postsurgical changes of the right chest wall, without acute bony abnormality."
    assert_judged(validator, text, step, True)


@pytest.mark.parametrize(
    "text",
    [
        "FINDINGS: Low lung volumes. Heart size normal.",
        "FINDINGS: Low lung volumes without focal airspace opacity, pleural effusion, or pneumothorax.",
    ],
)
def test_called_normal_against_a_short_qualified_sentence(validator, text):
    """"Low lung volumes." says the volumes are abnormal as plainly as "Lung volumes are low"."""
    assert_judged(validator, text, "Lung volumes are normal and the lungs are clear.", False, "negation_conflict")
    assert_judged(validator, text, "Lung volumes are low.", True)


@pytest.mark.parametrize(
    "step,good",
    [
        ("A left chest catheter is in place with its tip over the lower SVC.", True),
        ("A right chest catheter is in place with its tip over the lower SVC.", False),  # the wrong side
    ],
)
def test_a_device_the_deidentification_hid(validator, step, good):
    text = "FINDINGS: The lungs are clear. There is a left chest XXXX with tip projecting over the lower SVC."
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "step",
    [
        "Above the diaphragm, the lungs show no focal opacity, no pleural effusion, and no pneumothorax.",
        "4. Cardiomegaly: no, the heart is normal in size.",
        "The findings describe clear lungs with no focal opacity, effusion or pneumothorax, and a stable calcified "
        "granuloma in the right lower lobe.",
        "We're asked which of pneumothorax, pleural effusion, pneumoperitoneum, or rib fracture are present.",
    ],
)
def test_faithful_shapes_around_denials(validator, step):
    text = ("FINDINGS: No visible pneumothorax, focal airspace opacity, or pleural effusion is seen. No visible free "
            "air under the diaphragm. The heart is normal in size. There is a stable calcified granuloma in the "
            "right lower lobe.")
    assert_judged(validator, text, step, True)


@pytest.mark.parametrize(
    "step,good",
    [
        ("The report describes a new right-sided pleural effusion.", False),
        ("The right-sided pleural effusion is again present.", True),
    ],
)
def test_again_before_a_noun_is_unchanged(validator, step, good):
    text = "FINDINGS: There is again elevation of right hemidiaphragm with right-sided pleural effusion."
    assert_judged(validator, text, step, good)


def test_the_same_fall_is_no_change_over_time(validator):
    """"the same fall" says nothing of change: "acute" still contradicts "healing"."""
    text = "FINDINGS: Healing fracture of the right 8th rib. Lungs are clear."
    assert_judged(validator, text, "The right 8th rib fracture is acute, from the same fall.", False,
                  "temporal_conflict")
    assert_judged(validator, text, "The right 8th rib fracture is healing.", True)


@pytest.mark.parametrize(
    "step",
    [
        "In COPD, pulmonary hypertension can enlarge the central pulmonary arteries.",
        "First, I'll go over the bones carefully, since in multiple myeloma lytic lesions and compression "
        "fractures are common.",
    ],
)
def test_general_knowledge_about_what_diseases_do(validator, step):
    text = "FINDINGS: Hyperinflated lungs. Heart size normal. No acute bony abnormality."
    assert_judged(validator, text, step, True)


def test_and_or_is_a_hedge(validator):
    text = "FINDINGS: Minimal left costophrenic airspace disease and/or pleural effusion. Lungs otherwise clear."
    assert_judged(validator, text, "At the left costophrenic angle there's a small pleural effusion.", False,
                  "uncertainty_overstated")
    assert_judged(validator, text, "There may be a small left pleural effusion.", True)


@pytest.mark.parametrize(
    "step,good",
    [
        ("Severe leftward mediastinal shift is present.", False),
        ("Mild leftward mediastinal shift is present.", True),
        ("There is a large right pleural effusion.", True),
        ("There is a small right pleural effusion.", False),
    ],
)
def test_each_thing_keeps_its_own_grade_in_a_sentence_grading_two(validator, step, good):
    text = ("FINDINGS: The left lung is clear. IMPRESSION: Large right pleural effusion, increased from prior, "
            "with mild leftward mediastinal shift.")
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "step,good",
    [
        ("The word 'question' signals uncertainty: the radiologist suspects but doesn't confirm the effusions.", True),
        ("Old rib fractures are chronic and not relevant to the acute presentation, but they are still present.", True),
        ("A basal linear opacity isn't the typical pattern of reactivation TB, which favors the upper lobes.", True),
        ("There are no effusions.", False),
        ("There are no rib fractures.", False),
    ],
)
def test_not_confirmed_not_relevant_not_typical_deny_nothing(validator, step, good):
    text = ("FINDINGS: Question small bilateral pleural effusions. Old healed left rib fractures. Linear left "
            "basal opacity.")
    assert_judged(validator, text, step, good)


def test_a_borrowed_subject_drops_no_hedge(validator):
    """"It measures 6 mm." after a step about a nodule the report only "likely" calls a granuloma says the size,
    not the diagnosis."""
    text = "FINDINGS: 6 mm nodule in the right upper lobe, likely a calcified granuloma. No effusion."
    assert_judged(validator, text, "It measures 6 mm.", True,
                  before=["There is a calcified granuloma in the right upper lobe."])


# (report, step, good, reason): shapes of IU writer sets 17-20 (made-up reports in their words)
_ROUND_15 = [
    # a certainty booster before "rather than" affirms what it boosts
    ("IMPRESSION: Mild bibasilar airspace disease, probably atelectasis.",
     "These are definitely atelectasis rather than infection.", False, "uncertainty_overstated"),
    # the part of the aorta
    ("FINDINGS: Atherosclerotic calcifications of the thoracic aorta. Lungs are clear.",
     "Atherosclerotic calcifications are seen in the abdominal aorta.", False, "location_conflict"),
    ("FINDINGS: Atherosclerotic calcifications of the thoracic aorta. Lungs are clear.",
     "There is atherosclerotic calcification of the aortic arch.", True, None),
    # "T-spine" is the thoracic spine
    ("FINDINGS: T-spine osteophytes. Lungs are clear.", "There are osteophytes along the lumbar spine.", False,
     "location_conflict"),
    ("FINDINGS: T-spine osteophytes. Lungs are clear.", "There are osteophytes along the thoracic spine.", True, None),
    # "more <adjective> than before" is a change
    ("FINDINGS: The aorta is ectatic and atherosclerotic but stable.", "The aorta is more tortuous than before.", False,
     "temporal_conflict"),
    ("FINDINGS: The aorta is ectatic and atherosclerotic but stable.", "The aorta is ectatic, as before.", True, None),
    # lung volumes the report calls low or hyperinflated are not normal
    ("FINDINGS: There are low lung volumes with associated bronchovascular crowding. No pleural effusion.",
     "Lung volumes look normal on this film.", False, "negation_conflict"),
    ("FINDINGS: The lungs are clear. Lungs are hyperinflated.", "Lung volumes are described as normal.", False,
     "negation_conflict"),
    ("FINDINGS: The lungs are clear. Lung volumes are normal.", "Lung volumes are normal.", True, None),
    # a verdict word after a copied normal statement
    ("FINDINGS: The heart is normal in size. The mediastinum is unremarkable.",
     "Mediastinal lymphadenopathy: the mediastinum is unremarkable. Absent.", True, None),
    # ", and mild X" after a list of denials is affirmed
    ("FINDINGS: No focal airspace consolidation, pleural effusion, or pneumothorax. Mild degenerative changes of "
     "the spine.", "No focal consolidation, effusion or pneumothorax, and mild degenerative changes of the spine.",
     True, None),
    ("FINDINGS: No focal airspace consolidation, pleural effusion, or pneumothorax. Mild degenerative changes of "
     "the spine.", "No focal consolidation, and there are no degenerative changes of the spine.", False,
     "negation_conflict"),
    # (a qualifier of the first denial is not the second one's: "focal" says nothing of the spine)
    ("FINDINGS: No focal airspace consolidation, pleural effusion, or pneumothorax. Mild degenerative changes of "
     "the spine.", "No focal consolidation, and no degenerative changes of the spine.", False, "negation_conflict"),
    # "i.e." does not end a sentence
    ("FINDINGS: No focal airspace disease. No pneumothorax.",
     "The question asks about focal airspace disease, i.e. something like a pneumonia.", True, None),
    # a small grade added to an ungraded finding describes it; a large one is unfounded
    ("FINDINGS: There is a calcified granuloma in the left upper lobe. Lungs otherwise clear.",
     "There is a small calcified granuloma in the left upper lobe.", True, None),
    ("FINDINGS: There is a calcified granuloma in the left upper lobe. Lungs otherwise clear.",
     "There is a large calcified granuloma in the left upper lobe.", False, "severity_not_in_report"),
    # two findings on two sides in one report sentence: each keeps its own side
    ("FINDINGS: Calcified granuloma in the left upper lung is noted as well as right retrocardiac calcified nodule.",
     "A calcified granuloma is seen in the left upper lung.", True, None),
    ("FINDINGS: Calcified granuloma in the left upper lung is noted as well as right retrocardiac calcified nodule.",
     "A calcified granuloma is seen in the right upper lung.", False, "laterality_conflict"),
    # a report that contradicts itself: the step repeats one of its denials word for word
    ("FINDINGS: Nodular densities consistent with chronic granulomatous disease. IMPRESSION: No pulmonary nodules "
     "identified.", "The impression says no pulmonary nodules are identified, i.e. nothing suspicious.", True, None),
    # an age-indeterminate fracture is a fracture
    ("FINDINGS: There are several age-indeterminate left-sided rib fractures. The lungs are clear.",
     "On the left side, several rib fractures are seen, and their age is hard to determine.", True, None),
    # "ribs" for the report's "rib"; an added place where the report has a de-identified word
    ("FINDINGS: Left-sided rib deformities consistent with old fractures. Clear lungs.",
     "The left ribs show deformities consistent with old fractures.", True, None),
    ("FINDINGS: Left-sided rib deformities consistent with old fractures. Clear lungs.",
     "The right ribs show deformities consistent with old fractures.", False, "laterality_conflict"),
    ("FINDINGS: The transverse XXXX is calcified. Clear lungs.", "The transverse arch is calcified.", True, None),
    # "bronchovascular markings" are the report's bronchovascular crowding, not a finding of their own
    ("FINDINGS: There are low lung volumes with bronchovascular crowding. No focal consolidation.",
     "The lung volumes are low, which crowds the bronchovascular markings.", True, None),
    # "central lucency" is the report's "centrally lucent"; "causing" names nothing
    ("FINDINGS: Several small circular opacities in the right upper lung, some of which are centrally lucent.",
     "They are described as solid, without any central lucency.", False, "negation_conflict"),
    ("FINDINGS: Large left lower lobe opacity. There does not appear to be significant mediastinal shift.",
     "It's causing some shift of the mediastinum to the right.", False, "negation_conflict"),
    # "<words> changes of the <thing>" describes the thing as abnormal
    ("FINDINGS: No focal consolidation. Degenerative changes of the thoracic spine. No pleural effusions.",
     "The thoracic spine looks unremarkable.", False, "negation_conflict"),
    ("FINDINGS: No focal consolidation. Degenerative changes of the thoracic spine. No pleural effusions.",
     "The heart is unremarkable.", True, None),
    # a denial that also claims a comparison the report never makes
    ("FINDINGS: Normal heart size. The lungs are grossly clear without focal consolidation, pleural effusion or "
     "pneumothorax.", "The lungs are clear with no consolidation, effusion or pneumothorax, unchanged from the prior "
     "exam.", False, "temporal_conflict"),
    # two sides, each with its zone
    # a denial placed in another lobe than the report's finding
    ("FINDINGS: Large right pleural effusion with associated atelectatic collapse of the right middle lobe and "
     "partial collapse of the right lower lobe.", "Some opacities are seen, but no upper lobe collapse is described.",
     True, None),
    ("FINDINGS: Large right pleural effusion with associated atelectatic collapse of the right middle lobe and "
     "partial collapse of the right lower lobe.", "There is no lower lobe collapse.", False, "negation_conflict"),
    # general knowledge: what "can be occult" asserts nothing of this patient
    ("FINDINGS: The lungs are clear. No displaced rib fractures visualized.",
     "Subtle nondisplaced fractures can be occult on plain films, but the report does not describe any fracture.",
     True, None),
    # "left greater than right" is on both sides, the left one the greater
    ("FINDINGS: Left greater than right basilar opacity, probable atelectasis and/or scarring.",
     "Both bases show some opacity, but it's more pronounced on the left than on the right.", True, None),
    ("FINDINGS: Left greater than right basilar opacity, probable atelectasis and/or scarring.",
     "Both bases show some opacity, but it's more pronounced on the right than on the left.", False,
     "laterality_conflict"),
    ("FINDINGS: Worsened patchy opacities at the left apex and right base. IMPRESSION: Ill-defined patchy left "
     "apical and right basilar airspace disease.", "There are ill-defined patchy opacities at the left apex and the "
     "right base.", True, None),
    ("FINDINGS: Worsened patchy opacities at the left apex and right base. IMPRESSION: Ill-defined patchy left "
     "apical and right basilar airspace disease.", "There are patchy opacities at the right apex and the left base.",
     False, "laterality_conflict"),
]


@pytest.mark.parametrize("text,step,good,reason", _ROUND_15)
def test_shapes_of_writer_sets_17_to_20(validator, text, step, good, reason):
    assert_judged(validator, text, step, good, reason)


def test_a_change_of_a_pronoun_without_subject_is_not_read_against_the_report(validator):
    """"It looks grossly similar to the prior study" after a step about the vertebral fracture the report calls
    "grossly similar": no subject of its own, no change claimed against the report."""
    text = ("FINDINGS: Hyperexpanded lungs. Left upper lobe nodular opacity. Grossly similar midthoracic vertebral "
            "XXXX fracture.")
    assert_judged(validator, text, "It looks grossly similar to the prior study, so it isn't new.", True,
                  before=["There's a fracture deformity of a midthoracic vertebral body."])


@pytest.mark.parametrize(
    "comparison,good", [("Chest radiograph on XXXX.", True), ("None.", False), ("None available", False), (None, False)]
)
def test_nothing_new_since_a_prior_the_comparison_field_names(validator, comparison, good):
    """"Nothing new compared with the prior exam" holds when the report's comparison field names an earlier exam,
    and claims one the report does not have when it names none."""
    text = "FINDINGS: Lungs are clear bilaterally. No pneumothorax or pleural effusion.\nIMPRESSION: No acute disease."
    step = "With no abnormality on the current film, there is nothing new compared with the prior exam."
    assert_judged(validator, text, step, good, comparison=comparison)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # two moves disagree even when both sides also say the thing is seen again
        ("FINDINGS: Right basilar opacities are again seen and appear improved. No pleural effusion.",
         "The right basilar opacities are again noted and have worsened since the prior study.", False),
        ("FINDINGS: Right basilar opacities are again seen and appear improved. No pleural effusion.",
         "The right basilar opacities are again noted and have improved since the prior study.", True),
        # "no progression" denies a progression
        ("FINDINGS: Fullness of the left hilum is again noted and unchanged, suggesting no progression of the known "
         "nodule.", "The hilar fullness has progressed compared with the prior exam.", False),
        ("FINDINGS: Fullness of the left hilum is again noted and unchanged, suggesting no progression of the known "
         "nodule.", "The left hilar fullness is unchanged.", True),
        # a comparison frame that opens the step belongs to the clause after it
        ("FINDINGS: Blunting of the left costophrenic angle is unchanged from the prior examination.",
         "Compared with before, the blunting looks more pronounced.", False),
        ("FINDINGS: Blunting of the left costophrenic angle has increased from the prior examination.",
         "Compared with before, the blunting looks more pronounced.", True),
        # a list of short items: each item's place is its own
        ("FINDINGS: Enlarged heart. Pacemaker generator projects over the left upper chest. Mild opacities at both "
         "lung bases.", "Present: cardiomegaly, pacemaker, bibasilar opacities.", True),
        ("FINDINGS: There is a calcified granuloma in the lateral left base. There are calcified left hilar lymph "
         "nodes. There are atherosclerotic changes of the aorta.",
         "Present: calcified granuloma, calcified hilar lymph nodes, aortic atherosclerosis.", True),
        # "so we can assume" is no subject of what is called normal
        ("FINDINGS: Heart size normal. Lungs clear. Deformed left ribs.",
         "The report doesn't describe any rib abnormality, so we can assume the ribs are normal.", False),
        # a dislocation and a subluxation are one kind of thing: stating the hedged one as certain overstates it
        ("FINDINGS: The right humeral head sits below the glenoid, suspicious for inferior shoulder subluxation.",
         "There is an inferior dislocation of the right shoulder.", False),
        ("FINDINGS: The right humeral head sits below the glenoid, suspicious for inferior shoulder subluxation.",
         "There may be an inferior subluxation of the right shoulder.", True),
        # what the report keeps open on one side is not what a step denies on the other
        ("FINDINGS: Previously seen right pleural effusion has resolved. Extensive pleural densities are present on "
         "the left which may represent localized fluid or pleural thickening.",
         "According to the findings, the previously seen right pleural effusion has resolved.", True),
        ("FINDINGS: Previously seen right pleural effusion has resolved. Extensive pleural densities are present on "
         "the left which may represent localized fluid or pleural thickening.",
         "The pleural densities on the left are thickening, not fluid.", False),
    ],
)
def test_moves_over_time_and_comparison_frames(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "otherwise" excepts what its own sentence said first, not the thing it denies
        ("FINDINGS: Low lung volumes. Small bilateral pleural effusions. No pneumothorax.",
         "The lung volumes are low but otherwise no effusion or opacity.", False),
        ("FINDINGS: Low lung volumes. No pleural effusion. No pneumothorax.",
         "The lung volumes are low but otherwise no effusion or opacity.", True),
        ("FINDINGS: Small left pleural effusion. No pneumothorax.",
         "There is a small left effusion but otherwise no effusion.", True),
        # "not remarkable" is unremarkable
        ("FINDINGS: The lungs are clear. The osseous structures are not remarkable.",
         "The osseous structures are unremarkable.", True),
        # "no third lead" counts the leads: it denies none of the two the report has
        ("FINDINGS: Dual-chamber pacemaker with 2 leads, one in the right atrium and one in the right ventricle.",
         "No third lead is described, so there are two.", True),
        # an arthroplasty is a prosthesis of the joint
        ("FINDINGS: Clear lungs. Prosthetic left hip partly seen.", "A left hip arthroplasty is partly seen.", True),
        ("FINDINGS: Clear lungs. Prosthetic left hip partly seen.", "A right hip arthroplasty is partly seen.", False),
        # "large ... behind the heart" is no large heart
        ("FINDINGS: Normal heart size. Large hiatal hernia.", "A large hiatal hernia sits behind the heart.", True),
        ("FINDINGS: Normal heart size. Large hiatal hernia.", "The heart is large.", False),
        # "basal" is the base; effusions "at both bases" are where effusions lie
        ("FINDINGS: Left basal streaky opacity. No effusion.", "There is streaky opacity at the left lung base.", True),
        ("FINDINGS: Small bilateral pleural effusions. No pneumothorax.", "Small effusions sit at both bases.", True),
        # blunting is the sign of the effusion the report names
        ("FINDINGS: Small left pleural effusion. No pneumothorax.",
         "There is a small effusion blunting the left costophrenic angle.", True),
        ("FINDINGS: Small left pleural effusion. No pneumothorax.",
         "There is blunting of the right costophrenic angle.", False),
        ("FINDINGS: Normal heart size. Large hiatal hernia.", "The heart is normal, so cardiomegaly does not apply.",
         True),
    ],
)
def test_exceptions_counts_and_joint_prostheses(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # the greater side in "<side> shows more X than the <other>" and "increased X of the <side> compared to ..."
        ("FINDINGS: Patchy consolidation at both bases, left greater than right.",
         "The right base shows more consolidation than the left.", False),
        ("FINDINGS: Patchy consolidation at both bases, left greater than right.",
         "The left base shows more consolidation than the right.", True),
        ("FINDINGS: There is mildly increased opacity of the left base compared to the right.",
         "There is a little more opacity at the left base than at the right.", True),
        # a side given to the wrong place beside a place on both sides
        ("FINDINGS: Bibasilar and right perihilar opacities. No effusion.",
         "There are opacities at both bases and in the left perihilar region.", False),
        ("FINDINGS: Bibasilar and right perihilar opacities. No effusion.",
         "There are opacities at both bases and in the right perihilar region.", True),
        # places of devices and hardware: the coronary sinus, the mediastinum against the abdomen, one joint for another
        ("FINDINGS: Stable position of 2 pacing leads, with one tip in the expected region of the right atrium and "
         "another tip in the expected region of the right ventricle.",
         "One lead tip is in the right ventricle and the other is in the coronary sinus.", False),
        ("FINDINGS: Cholecystectomy clips in the right upper quadrant. Clear lungs.",
         "Surgical clips are seen over the mediastinum.", False),
        # the side of the sentence about the same place: two curves of the spine
        ("FINDINGS: Clear lungs. Dextrocurvature of the lower thoracic spine. Levocurvature of the lumbar spine.",
         "The thoracic spine curves to the left.", False),
        ("FINDINGS: Clear lungs. Dextrocurvature of the lower thoracic spine. Levocurvature of the lumbar spine.",
         "The lumbar spine curves to the left.", True),
        ("FINDINGS: Clear lungs. Degenerative right glenohumeral osteoarthritis.",
         "The right acromioclavicular joint shows osteoarthritic change.", False),
    ],
)
def test_greater_sides_and_places_of_devices_and_joints(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        ("FINDINGS: Clear lungs. Calcified left hilar lymph nodes.",
         "These calcified nodes point to old granulomatous infection.", True),
        ("FINDINGS: Clear lungs. Calcified left hilar lymph nodes.",
         "Calcified nodes like these suggest prior granulomatous exposure.", True),
        ("FINDINGS: Clear lungs. Calcified left hilar lymph nodes.", "There is active granulomatous disease.", False),
        ("FINDINGS: Clear lungs. Two calcified nodules in the left lower lung.",
         "There are calcified nodules in the left lower lung, most likely old granulomas.", True),
        ("FINDINGS: Clear lungs. Two calcified nodules in the left lower lung.",
         "There are granulomas in the left lower lung.", False),
        # a calcified aorta is no granulomatous sequel
        ("FINDINGS: Clear lungs. Calcified tortuous aorta.", "This suggests prior granulomatous infection.", False),
    ],
)
def test_old_granulomatous_disease_read_from_calcified_nodes(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "step,good",
    [
        # the numbers of the report's list are no sizes or counts
        ("The nodule measures about 2 cm.", False),
        ("There are three compression deformities.", False),
        # a numbered item cited or quoted as such
        ("Impression item 2 describes the nodule.", True),
        ("Items 1 and 2 are about the nodule and the spine.", True),
        ('The impression lists "2. Multiple thoracic compression deformities."', True),
    ],
)
def test_numbers_of_a_numbered_impression(validator, step, good):
    text = ("FINDINGS: Calcified nodule in the right upper lobe. Multiple thoracic compression deformities. "
            "IMPRESSION: 1. Calcified right upper lobe nodule. 2. Multiple thoracic compression deformities. 3. No "
            "acute disease.")
    assert_judged(validator, text, step, good)


def test_a_decimal_before_a_full_stop_is_no_list_number(validator):
    text = ("FINDINGS: The heart is enlarged, cardiothoracic ratio of 15.1/28.3. Lungs clear. IMPRESSION: 1. "
            "Cardiomegaly.")
    assert_judged(validator, text, "The heart is enlarged, with a cardiothoracic ratio of 15.1/28.3.", True)


@pytest.mark.parametrize(
    "step,good",
    [
        ("There is pulmonary edema.", False),
        ("The impression confirms pulmonary edema.", False),
        # the report's own sentence quoted with its hidden verb
        ("The lung pattern XXXX pulmonary edema.", True),
        ("Pulmonary edema is suspected.", True),
        # the sign is stated in so many words; only its reading is hedged
        ("There are increased interstitial markings.", True),
    ],
)
def test_a_finding_behind_a_hidden_verb_and_hedged_elsewhere_is_hedged(validator, step, good):
    text = ("FINDINGS: The heart is enlarged. There are increased interstitial and hazy opacities. The lung pattern "
            "XXXX pulmonary edema. IMPRESSION: Enlarged heart, suspected pulmonary edema.")
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "step,good",
    [
        # the thing before "without" is affirmed: its place is judged
        ("The films show spondylosis of the lumbar spine without an acute bony abnormality.", False),
        ("The films show spondylosis of the thoracic spine without an acute bony abnormality.", True),
        # a relative tail that denies an age ("not acute") leaves the thing affirmed
        ("There is spondylosis in the cervical spine, which is chronic and not acute.", False),
        ("There is spondylosis in the thoracic spine, which is chronic and not acute.", True),
        # a tail that keeps the reading open is no denial either
        ("A small density sits in the right upper lung; it may be a granuloma, but that isn't certain.", True),
        # a normal statement before "without" is judged whole, as before
        ("The bones are intact without an acute bony abnormality.", True),
    ],
)
def test_a_thing_affirmed_before_without_or_a_denied_attribute(validator, step, good):
    text = ("FINDINGS: Normal heart size. Lungs clear apart from a small density in the right upper lung, possibly a "
            "granuloma. Spondylosis of the thoracic spine. No acute bony abnormality. IMPRESSION: No acute disease.")
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # one thing under two words: "aortic arch" aligns with "descending aorta", and its part is judged
        ("FINDINGS: Mild tortuosity of the descending thoracic aorta. Lungs clear. IMPRESSION: No acute disease.",
         "There is also mild tortuosity of the aortic arch.", False),
        ("FINDINGS: Mild tortuosity of the descending thoracic aorta. Lungs clear. IMPRESSION: No acute disease.",
         "The descending aorta is mildly tortuous.", True),
        # a report sentence that says "This is similar to prior" of a hedged reading keeps it hedged
        ("FINDINGS: Flowing osteophytes along the thoracic spine. This could indicate diffuse idiopathic skeletal "
         "hyperostosis. This is similar to the prior exam. IMPRESSION: No acute disease.",
         "This confirms diffuse idiopathic skeletal hyperostosis.", False),
        ("FINDINGS: Flowing osteophytes along the thoracic spine. This could indicate diffuse idiopathic skeletal "
         "hyperostosis. This is similar to the prior exam. IMPRESSION: No acute disease.",
         "The osteophytes could reflect diffuse idiopathic skeletal hyperostosis.", True),
        # a denial after its subject with nothing after it
        ("FINDINGS: Coarse interstitial markings, XXXX represent XXXX bronchiolitis. IMPRESSION: No consolidation.",
         "The markings are nonspecific, so bronchiolitis can be excluded as well.", False),
        ("FINDINGS: Tortuous aorta. Lungs clear. IMPRESSION: No acute disease.",
         "The aorta is tortuous, so it is not normal in appearance.", True),
        ("FINDINGS: Interval removal of the right IJ catheter without pneumothorax. IMPRESSION: No acute disease.",
         "The right internal jugular catheter has been removed.", True),
    ],
)
def test_one_thing_two_words_pronoun_hedges_and_denials_after_the_subject(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # the cardiac silhouette and the heart are one thing: either word grounds (or contradicts) the other
        ("FINDINGS: The cardiac silhouette is mildly enlarged. Lungs clear. IMPRESSION: No acute disease.",
         "The heart is enlarged.", True),
        ("FINDINGS: The cardiac silhouette is mildly enlarged. Lungs clear. IMPRESSION: No acute disease.",
         "There is no cardiomegaly.", False),
        # "remains" and "continued" say the thing is as it was
        ("FINDINGS: Heart size remains mildly enlarged. Aorta remains tortuous. IMPRESSION: Continued mild "
         "cardiomegaly.", "The aorta is tortuous, unchanged from the prior study.", True),
        ("FINDINGS: Heart size remains mildly enlarged. Aorta remains tortuous. IMPRESSION: Continued mild "
         "cardiomegaly.", "The heart has become larger since the prior study.", False),
        # what a step calls unrelated it does not claim
        ("FINDINGS: Lungs clear. Degenerative changes of the spine. IMPRESSION: No active disease.",
         "The spine changes are chronic and unrelated to pneumonia.", True),
        # a grade inside a hyphenated word
        ("FINDINGS: Moderately-inflated lungs consistent with COPD. IMPRESSION: COPD.",
         "The lungs are moderately inflated, consistent with COPD.", True),
    ],
)
def test_one_observation_two_names_continuation_unrelated_and_hyphenated_grades(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a valve replacement is a prosthetic valve, and the valve is a place
        ("FINDINGS: Sternotomy wires intact. The patient is post aortic valve replacement. Lungs clear. "
         "IMPRESSION: No acute disease.", "A prosthetic aortic valve projects over the heart.", True),
        ("FINDINGS: Sternotomy wires intact. Mitral valve replacement seen. Lungs clear. IMPRESSION: No acute "
         "disease.", "A prosthetic aortic valve is visible.", False),
        # plans and general statements
        ("FINDINGS: No pneumothorax. Hyperinflated lungs with bullae. IMPRESSION: Emphysema.",
         "The report needs to be checked for any pneumothorax.", True),
        ("FINDINGS: No pneumothorax. Hyperinflated lungs with bullae. IMPRESSION: Emphysema.",
         "With bullous lungs, a pneumothorax can be subtle.", True),
        ("FINDINGS: Stable cardiomegaly. No consolidation. IMPRESSION: Cardiomegaly without heart failure.",
         "I need to decide on heart failure, which means looking for edema or effusions.", True),
        # a report's "considerations" restated as such
        ("FINDINGS: Enlarged globular cardiac silhouette. IMPRESSION: Considerations would include pericardial "
         "effusion or cardiomyopathy.", "The impression lists pericardial effusion or cardiomyopathy as "
         "considerations.", True),
    ],
)
def test_valve_replacements_plans_that_name_findings_and_considerations(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "without significant interval change" keeps the thing
        ("FINDINGS: There is redemonstration without significant interval change of mild atelectasis of the left "
         "base. IMPRESSION: No acute disease.", "At the left base there is mild atelectasis, also unchanged.", True),
        # "and says" starts a statement of its own: the denial after it does not reach back
        ("FINDINGS: Lungs clear. The heart is not significantly enlarged. There are atherosclerotic changes of the "
         "aorta. IMPRESSION: No acute disease.",
         "It notes atherosclerotic changes of the aorta and says the heart is not significantly enlarged.", True),
        # a general sign is glue; "less likely" argues against
        ("FINDINGS: The left costophrenic sulcus is blunted. No pleural fluid collection on the lateral view. "
         "IMPRESSION: Blunting.", "The left costophrenic sulcus is blunted, which can be a sign of fluid.", True),
        ("FINDINGS: Normal heart size. No findings of pulmonary edema. IMPRESSION: No acute disease.",
         "The heart is normal in size, which makes cardiogenic edema less likely.", True),
        # a copied sentence closed by the denial it concludes
        ("FINDINGS: The cardiomediastinal silhouette is within normal limits. Lungs clear. IMPRESSION: Normal.",
         "The cardiomediastinal silhouette is within normal limits, so no cardiomegaly.", True),
        ("FINDINGS: The cardiomediastinal silhouette is enlarged. Lungs clear. IMPRESSION: Cardiomegaly.",
         "The cardiomediastinal silhouette is enlarged, so no cardiomegaly.", False),
    ],
)
def test_unchanged_denials_statements_after_and_says_signs_and_concluded_denials(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "without significant change" says unchanged
        ("FINDINGS: Left lower lobe airspace opacity without significant change. IMPRESSION: Stable opacity.",
         "The left lower lobe opacity is about the same as on the previous film.", True),
        ("FINDINGS: Left lower lobe airspace opacity without significant change. IMPRESSION: Stable opacity.",
         "The left lower lobe opacity is new since the previous film.", False),
        # a hedge ends at the next item of a list
        ("FINDINGS: Stable borderline cardiomegaly, stable mediastinal and hilar contours. IMPRESSION: No acute "
         "disease.", "The mediastinal and hilar contours are stable.", True),
        # "more inferior" places a thing; it ranks no side
        ("FINDINGS: Irregular opacity over the left apex. A more inferior left upper lobe opacity measures 6 mm. "
         "IMPRESSION: Left upper lobe opacities.", "A second, more inferior opacity sits in the left upper lobe.",
         True),
        # how a thing can look is general knowledge
        ("FINDINGS: Stable heart size. Low lung volumes. IMPRESSION: No acute disease.",
         "With low volumes the heart can look larger than it is.", True),
    ],
)
def test_change_in_other_words_hedges_in_lists_positions_and_how_things_can_look(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # quadrants of the abdomen, segments of a lobe and vessels are places
        ("FINDINGS: Lungs clear. Calcification in the right upper quadrant of the abdomen, likely a gallstone. "
         "IMPRESSION: No acute disease.", "The calcification lies in the right lower quadrant of the abdomen.", False),
        ("FINDINGS: Lungs clear. Calcification in the right upper quadrant of the abdomen, likely a gallstone. "
         "IMPRESSION: No acute disease.", "A calcification sits in the right upper quadrant.", True),
        ("FINDINGS: Rounded opacity in the posterobasal segment of the right lower lobe, 2 cm. IMPRESSION: Nodule.",
         "The opacity lies in the anterobasal segment of the right lower lobe.", False),
        ("FINDINGS: Atherosclerotic calcifications within the thoracic aorta. Lungs clear. IMPRESSION: No acute "
         "disease.", "Atherosclerotic calcifications are present in the coronary arteries.", False),
        # the adjective and the noun of one vessel
        ("FINDINGS: Atherosclerotic calcifications identified within the aortic arch. Lungs clear. IMPRESSION: "
         "Normal.", "Atherosclerotic calcifications are identified in the aorta.", True),
    ],
)
def test_quadrants_segments_and_vessels_are_places(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "and there are" starts a statement the denial before it does not reach
        ("FINDINGS: Status post right mastectomy, with surgical clips in the right axilla. Lungs clear. "
         "IMPRESSION: No acute disease.",
         "The right breast shadow is absent and there are surgical clips in the right axilla.", True),
        # the report's "lines and tubes" is no chest tube on the side the step denies one
        ("FINDINGS: A left pleural chest tube is in place. IMPRESSION: Expected appearance after CABG with lines "
         "and tubes in satisfactory position.", "I don't see any chest tube on the right side.", True),
        ("FINDINGS: A right pleural chest tube is in place. IMPRESSION: Postoperative appearance with lines and "
         "tubes in satisfactory position.", "I don't see any chest tube on the right side.", False),
    ],
)
def test_statements_after_and_there_are_and_generic_devices(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a hedge ends where "and" starts a clause of its own: the recommendation is certain
        ("FINDINGS: 1.2 cm nodule in the right lower lobe. IMPRESSION: Malignancy cannot be excluded, and chest CT "
         "is recommended for further evaluation.", "So the radiologist recommends a chest CT for further evaluation.",
         True),
        ("FINDINGS: New 2.5 cm nodular opacity in the right upper lobe. IMPRESSION: Fungal infection is a "
         "consideration and CT is recommended.", "The impression recommends CT.", True),
        # still hedged: what the hedge names
        ("FINDINGS: 1.2 cm nodule in the right lower lobe. IMPRESSION: Malignancy cannot be excluded, and chest CT "
         "is recommended for further evaluation.", "The nodule is a malignancy.", False),
        # where to look for a finding is a plan
        ("FINDINGS: Retrocardiac opacity which may reflect atelectasis or pneumonia. IMPRESSION: As above.",
         "The key area for pneumonia on this film is the retrocardiac left lower lobe.", True),
    ],
)
def test_hedges_end_at_a_clause_of_their_own_and_key_areas_are_plans(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # congested vessels are vascular congestion, with their change over time
        ("FINDINGS: There is mild pulmonary vascular congestion which is new since the prior, and the heart is "
         "mildly enlarged, similar to prior. IMPRESSION: New mild pulmonary vascular congestion.",
         "The pulmonary vessels are mildly congested, similar to how they looked on the prior film.", False),
        ("FINDINGS: There is mild pulmonary vascular congestion which is new since the prior, and the heart is "
         "mildly enlarged, similar to prior. IMPRESSION: New mild pulmonary vascular congestion.",
         "The pulmonary vessels are now mildly congested.", True),
        # what holds by definition is general knowledge
        ("FINDINGS: Mild levoscoliosis of the thoracic spine. IMPRESSION: No acute disease.",
         "A rightward convexity is by definition a dextroscoliosis.", True),
    ],
)
def test_congested_vessels_and_definitions(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a reading named as the alternative stays open
        ("FINDINGS: Stable eventration of the left hemidiaphragm versus small Bochdalek hernia. IMPRESSION: No "
         "acute disease.", "There is a stable left eventration, with a small Bochdalek hernia as the alternative.",
         True),
        ("FINDINGS: Stable eventration of the left hemidiaphragm versus small Bochdalek hernia. IMPRESSION: No "
         "acute disease.", "There is a small Bochdalek hernia.", False),
    ],
)
def test_a_reading_named_as_the_alternative_stays_open(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a denied defect of a device does not deny the device
        ("FINDINGS: Dual-chamber pacemaker with leads in the right atrium and ventricle. Lungs clear. IMPRESSION: "
         "No acute disease.", "I don't see any lead fracture or discontinuity.", True),
        ("FINDINGS: Dual-chamber pacemaker with leads in the right atrium and ventricle. Lungs clear. IMPRESSION: "
         "No acute disease.", "There are no pacemaker leads.", False),
    ],
)
def test_a_denied_defect_of_a_device_keeps_the_device(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "X is not a Y" says what X is not, not that X is absent
        ("FINDINGS: The thoracic aorta is tortuous. Lungs clear. IMPRESSION: Tortuous aorta.",
         "Tortuosity alone is not an aneurysm.", True),
        ("FINDINGS: Degenerative disc disease of the thoracic spine. No compression deformity. IMPRESSION: Normal.",
         "Degenerative disc change alone isn't a compression deformity.", True),
        # a denial all the same
        ("FINDINGS: The thoracic aorta is tortuous. Lungs clear. IMPRESSION: Tortuous aorta.",
         "The aorta is not tortuous.", False),
        ("FINDINGS: Small left pleural effusion. IMPRESSION: Small effusion.",
         "The effusion is not a concern here, as there is none.", False),
    ],
)
def test_what_a_thing_is_not_does_not_deny_it(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a plain-looking sentence whose de-identified word may hide the hedge of a short phrase does not make the
        # hedged reading certain
        ("FINDINGS: Patchy opacities at the right base possibly related to fibrosis and atelectasis. IMPRESSION: "
         "Patchy right basilar opacity, XXXX subsegmental atelectasis and fibrosis.",
         "The patchy opacities at the right base are fibrosis.", False),
        # a sentence that states it openly does
        ("FINDINGS: Patchy opacities at the right base possibly related to fibrosis and atelectasis. IMPRESSION: "
         "Patchy right basilar opacity with fibrosis.",
         "The patchy opacities at the right base are fibrosis.", True),
        ("FINDINGS: Patchy opacities at the right base possibly related to fibrosis and atelectasis. IMPRESSION: "
         "Patchy right basilar opacity, XXXX subsegmental atelectasis and fibrosis.",
         "The patchy right basal opacities may be fibrosis or atelectasis.", True),
    ],
)
def test_a_hidden_hedge_over_a_short_phrase(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a thing called normal that a part of a report sentence names with its own abnormality, beside another
        # thing's normal word
        ("FINDINGS: Stable cardiomediastinal silhouette with normal heart size and aortic ectasia, stable hilar "
         "contours. IMPRESSION: No acute disease.", "The heart is normal in size, and the aorta is normal in caliber.",
         False),
        ("FINDINGS: Heart size within normal limits, mild aortic tortuosity. Lungs clear. IMPRESSION: Normal.",
         "The aorta is normal in caliber.", False),
        # the report's normal word is the thing's own
        ("FINDINGS: Stable cardiomediastinal silhouette with normal heart size and aortic ectasia, stable hilar "
         "contours. IMPRESSION: No acute disease.", "The heart is normal in size.", True),
        ("FINDINGS: The bones, as visualized, appear unremarkable. Lungs clear. IMPRESSION: Normal.",
         "The bones appear unremarkable.", True),
        # a clause that names the abnormality itself
        ("FINDINGS: The bones are intact with mild degenerative change in the thoracic spine. IMPRESSION: Normal.",
         "The bones are intact, with mild degenerative change in the thoracic spine.", True),
    ],
)
def test_a_thing_called_normal_beside_its_own_abnormality(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a thing the step calls abnormal, in the step's own words about the report, that a report sentence calls
        # normal together with another thing
        ("FINDINGS: Cardiac silhouette and pulmonary vasculature are within normal limits. Lungs are clear. "
         "IMPRESSION: Normal chest.", "The heart is normal, although the pulmonary vasculature is described as "
         "mildly congested.", False),
        ("FINDINGS: Cardiac silhouette and pulmonary vasculature are within normal limits. Lungs are clear. "
         "IMPRESSION: Normal chest.", "The pulmonary vasculature is engorged.", False),
        ("FINDINGS: Cardiac silhouette and pulmonary vasculature are within normal limits. Lungs are clear. "
         "IMPRESSION: Normal chest.", "The heart is normal, and the pulmonary vasculature is described as "
         "normal.", True),
        ("FINDINGS: Mild pulmonary vascular congestion. Lungs are clear. IMPRESSION: Mild congestion.",
         "The pulmonary vasculature is described as mildly congested.", True),
    ],
)
def test_called_abnormal_against_things_called_normal_together(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a named thing denied before a catch-all ("or other abnormality") is denied all the same
        ("FINDINGS: Bones intact. DISH of the thoracic spine. IMPRESSION: Negative.",
         "The spine looks unremarkable, with no DISH or other abnormality.", False),
        ("FINDINGS: Bones intact. Schmorl nodes in the thoracic spine. IMPRESSION: Negative.",
         "There are no Schmorl nodes or any other bony abnormality.", False),
        # a denial of other things only, and a catch-all beside a thing the report denies too
        ("FINDINGS: Bones intact. Bridging osteophytes of the thoracic spine. IMPRESSION: Negative.",
         "Osteophytes are present, but there is no other abnormality.", True),
        ("FINDINGS: Bones intact. No fracture. Bridging osteophytes of the thoracic spine. IMPRESSION: Negative.",
         "There is no fracture or other acute abnormality.", True),
    ],
)
def test_a_denial_before_a_catch_all(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "indication,text,step,good",
    [
        # what a step says of the film before "given <history>" is judged, not taken as the patient's history
        ("Renal cell carcinoma, back pain.", "FINDINGS: Lungs clear. Mild compression deformity of a lower thoracic "
         "vertebra. IMPRESSION: No acute disease.", "There is a mild lower thoracic vertebral deformity, which is new "
         "since the prior exam and could be concerning given the renal cell carcinoma.", False),
        ("Leukemia, neutropenic fever.", "FINDINGS: New right upper lobe nodular opacity, which could reflect fungal "
         "infection. IMPRESSION: Nodular opacity, possibly infectious.", "The report diagnoses this as a certain "
         "fungal infection given the leukemia and neutropenic fever.", False),
        # the history itself, and a faithful step with the same reason
        ("Renal cell carcinoma, back pain.", "FINDINGS: Lungs clear. Mild compression deformity of a lower thoracic "
         "vertebra. IMPRESSION: No acute disease.", "The patient has renal cell carcinoma and back pain.", True),
        ("Renal cell carcinoma, back pain.", "FINDINGS: Lungs clear. Mild compression deformity of a lower thoracic "
         "vertebra. IMPRESSION: No acute disease.", "There is a mild lower thoracic vertebral deformity, which could "
         "be concerning given the renal cell carcinoma.", True),
    ],
)
def test_a_film_claim_before_given_history(validator, indication, text, step, good):
    assert_judged(validator, text, step, good, indication=indication)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # what the report says only appears to be, or calls probable, is not confirmed
        ("FINDINGS: There appear to be small bilateral pleural effusions. IMPRESSION: Probable small bilateral "
         "pleural effusions.", "The impression confirms small bilateral pleural effusions.", False),
        ("FINDINGS: There appears to be a small right pleural effusion. IMPRESSION: No acute disease.",
         "The report definitely confirms a small right pleural effusion.", False),
        # a plain restatement keeps it
        ("FINDINGS: There appear to be small bilateral pleural effusions. IMPRESSION: Probable small bilateral "
         "pleural effusions.", "There are small bilateral pleural effusions.", True),
        ("FINDINGS: Small bilateral pleural effusions. IMPRESSION: Small bilateral pleural effusions.",
         "The impression confirms small bilateral pleural effusions.", True),
    ],
)
def test_a_booster_over_what_only_appears_to_be(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a side the report gives another thing of the same sentence is not the thing's side
        ("FINDINGS: There is moderate dextroconvex curvature of the thoracic spine, centered near T9, unchanged. The "
         "lungs are clear. IMPRESSION: Stable thoracic curvature and old healed left rib fractures.",
         "There is moderate levoconvex curvature of the thoracic spine, unchanged from before.", False),
        ("FINDINGS: Moderate dextroconvex curvature of the thoracic spine. IMPRESSION: Stable thoracic curvature and "
         "old healed left rib fractures.", "There is a moderate dextroconvex curvature of the thoracic spine.", True),
        ("FINDINGS: Lungs clear. IMPRESSION: Stable thoracic curvature and old healed left rib fractures.",
         "There are old healed left rib fractures.", True),
        # a side word in the stretch that names the thing stays its side
        ("FINDINGS: Left-sided dual-chamber pacemaker with leads in the right atrium and right ventricle. "
         "IMPRESSION: No acute disease.", "There is a right-sided dual-chamber pacemaker.", False),
    ],
)
def test_a_side_given_to_another_thing_of_the_sentence(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a recommendation read back with another follow-up interval
        ("FINDINGS: Patchy left basal opacity. IMPRESSION: Left base opacity may represent early infection. "
         "Recommend follow-up radiographs in 6 weeks to ensure resolution.",
         "The radiologist recommends a follow-up chest X-ray in 2 weeks to make sure it resolves.", False),
        ("FINDINGS: Right basilar opacity. IMPRESSION: Right lower lobe pneumonia. Follow-up radiographs in 8-12 "
         "weeks after treatment are indicated.", "I'd recommend a follow-up film about two weeks after treatment.",
         False),
        # the same interval, one inside the report's range, and an interval the report does not give in that unit
        ("FINDINGS: Patchy left basal opacity. IMPRESSION: Left base opacity may represent early infection. "
         "Recommend follow-up radiographs in 6 weeks to ensure resolution.",
         "The radiologist recommends a follow-up chest X-ray in 6 weeks to make sure it resolves.", True),
        ("FINDINGS: Right basilar opacity. IMPRESSION: Right lower lobe pneumonia. Follow-up radiographs in 8-12 "
         "weeks after treatment are indicated.", "A follow-up film in about 8 to 12 weeks is recommended.", True),
        ("FINDINGS: Right basilar opacity. IMPRESSION: Right lower lobe pneumonia. Follow-up radiographs in 8-12 "
         "weeks after treatment are indicated.", "Pneumonia usually takes a few months to clear on follow-up "
         "films.", True),
    ],
)
def test_a_recommendation_read_back_with_another_interval(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "previously large, is now small" states what this film shows
        ("FINDINGS: The left pneumothorax has decreased, now small and apical, measuring 1.5 cm, previously "
         "large. IMPRESSION: Decreased left pneumothorax.",
         "The pneumothorax, previously large, is now small and apical, measuring about 2.5 cm.", False),
        ("FINDINGS: The left pneumothorax has decreased, now small and apical, measuring 1.5 cm, previously "
         "large. IMPRESSION: Decreased left pneumothorax.",
         "The pneumothorax, previously large, is now small and apical, measuring about 1.5 cm.", True),
        # a clause about the prior exam alone is still the prior's
        ("FINDINGS: The left pneumothorax has decreased, now small and apical, measuring 1.5 cm, previously "
         "large. IMPRESSION: Decreased left pneumothorax.", "There was a large pneumothorax on the prior study.",
         True),
    ],
)
def test_previously_then_now_is_this_film(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # pacing wires are a cardiac device the report must name; sternotomy wires are not pacing wires
        ("FINDINGS: Status post sternotomy with intact sternotomy wires and mediastinal clips. No pneumothorax. "
         "IMPRESSION: Postoperative chest.", "Temporary epicardial pacing wires are also noted.", False),
        # a pacemaker read as pacing leads or a pacing device
        ("FINDINGS: Left chest pacemaker with leads in the right atrium and ventricle. IMPRESSION: No acute "
         "disease.", "The pacing leads end in the right atrium and ventricle.", True),
        ("FINDINGS: Left chest pacemaker with leads in the right atrium and ventricle. IMPRESSION: No acute "
         "disease.", "There is a pacing device in the left chest.", True),
        ("FINDINGS: Status post sternotomy with intact sternotomy wires and epicardial pacing wires. IMPRESSION: "
         "Postoperative chest.", "Epicardial pacing wires are noted.", True),
    ],
)
def test_pacing_wires_are_a_device_of_their_own(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "worse in the right lung" ranks the sides; it states no change over time
        ("FINDINGS: Diffuse bilateral airspace opacities, slightly worse in the right lung, overall unchanged "
         "compared to the prior day. IMPRESSION: Unchanged bilateral opacities.",
         "The bilateral airspace opacities have progressed since the previous day.", False),
        ("FINDINGS: Diffuse bilateral airspace opacities, slightly worse in the right lung, overall unchanged "
         "compared to the prior day. IMPRESSION: Unchanged bilateral opacities.",
         "The bilateral airspace opacities are unchanged since the previous day, a little worse on the right.", True),
        ("FINDINGS: Bilateral airspace opacities, worse than on the prior day. IMPRESSION: Worsening opacities.",
         "The bilateral airspace opacities have progressed since the previous day.", True),
    ],
)
def test_worse_in_a_side_ranks_the_sides(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "bilaterally" added to what the report says of the lungs is no side of its own
        ("FINDINGS: The lungs are well aerated. Small right effusion. IMPRESSION: Small effusion.",
         "The lungs are well aerated bilaterally.", True),
        ("FINDINGS: Atelectasis at the right base. IMPRESSION: Atelectasis.", "Atelectasis at both bases.", False),
        # a sentence that shares three words with a long step gives its side; "femoral head" is no line access
        ("FINDINGS: On the right there is narrowing of the hip joint space. Osteophytes with sclerosis and "
         "subchondral cysts along the acetabulum and femoral head. The left hip shows near-complete obliteration "
         "of the joint space with sclerosis along the femoral head. IMPRESSION: Arthritis.",
         "The right hip shows narrowing of the joint space, with osteophytes, sclerosis and subchondral cysts "
         "along the acetabulum and femoral head.", True),
    ],
)
def test_both_lungs_and_sides_from_sentences_sharing_words(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # lobes denied with the other sides than the report gives them are other places
        ("IMPRESSION: Pneumonia involving the right upper lobe and left lower lobe. No pneumothorax.",
         "The right lower lobe and left upper lobe are not mentioned as involved.", True),
        ("IMPRESSION: Pneumonia involving the right upper lobe and left lower lobe. No pneumothorax.",
         "There is no pneumonia in the right lower lobe or the left upper lobe.", True),
        # the same places are still denied wrongly
        ("IMPRESSION: Pneumonia involving the right upper lobe and left lower lobe. No pneumothorax.",
         "The right upper lobe is not mentioned as involved.", False),
        ("IMPRESSION: Pneumonia involving the right upper lobe and left lower lobe. No pneumothorax.",
         "There is no pneumonia in the right upper lobe or the left lower lobe.", False),
    ],
)
def test_lobes_denied_on_other_sides(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # devices and clips placed high or low on the chest, and in the neck or the axilla
        ("FINDINGS: Normal heart size. A pacemaker generator overlies the left upper thorax with leads in the right "
         "atrium and ventricle. IMPRESSION: No acute disease.", "The generator sits over the left lower chest wall.",
         False),
        ("FINDINGS: Normal heart size. A pacemaker generator overlies the left upper thorax with leads in the right "
         "atrium and ventricle. IMPRESSION: No acute disease.", "The generator overlies the left upper chest.", True),
        ("FINDINGS: Surgical clips in the right axilla. Clear lungs. IMPRESSION: Negative.",
         "Surgical clips are in the right supraclavicular region.", False),
        ("FINDINGS: Surgical clips in the right axilla. Clear lungs. IMPRESSION: Negative.",
         "Surgical clips are seen in the right axillary region.", True),
        # a tube tip past the gastroesophageal junction is in the stomach; the course of a tube is not its tip
        ("FINDINGS: Enteric tube with tip distal to the gastroesophageal junction. Clear lungs. IMPRESSION: Negative.",
         "The tube tip lies just above the gastroesophageal junction, in the distal esophagus.", False),
        ("FINDINGS: Enteric tube with tip distal to the gastroesophageal junction. Clear lungs. IMPRESSION: Negative.",
         "The enteric tube tip is in the stomach.", True),
        ("FINDINGS: Enteric tube with tip distal to the gastroesophageal junction. Clear lungs. IMPRESSION: Negative.",
         "The tube follows the course of the esophagus rather than the airway.", True),
    ],
)
def test_places_on_the_chest_wall_in_the_neck_and_past_the_junction(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "airspace disease", "opacity", "infiltrate", "consolidation" and "pneumonia" name one thing, so its places
        # are compared
        ("FINDINGS: There is bibasilar airspace disease. Small bilateral effusions. IMPRESSION: Effusions.",
         "There is airspace opacity in both upper lungs as well as the bases.", False),
        ("FINDINGS: There is bibasilar airspace disease. Small bilateral effusions. IMPRESSION: Effusions.",
         "There is airspace opacity at both lung bases.", True),
        ("FINDINGS: Left basilar airspace opacity. IMPRESSION: Left middle and lower lobe pneumonia.",
         "There is airspace opacity at the left base, involving the left middle and lower lobes.", True),
        # a word the report hides behind its de-identification still names the thing ("fusion XXXX")
        ("FINDINGS: Stable lower cervical fusion XXXX. Clear lungs. IMPRESSION: Negative.",
         "The report notes upper thoracic fusion hardware.", False),
        ("FINDINGS: Stable lower cervical fusion XXXX. Clear lungs. IMPRESSION: Negative.",
         "The report notes cervical fusion hardware.", True),
        # ... but not before a sentence that names it
        ("FINDINGS: Prosthetic left hip. Possible XXXX body near the right hip. IMPRESSION: Negative.",
         "There is a prosthetic right hip.", False),
    ],
)
def test_airspace_words_and_words_hidden_by_deidentification(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a pronoun subject after an opening phrase borrows the clause before it
        ("FINDINGS: Focal consolidation in the lateral aspect of the left upper lobe. IMPRESSION: Pneumonia.",
         "There is focal consolidation in the lateral left lung; on the lateral view it sits low, so it is in the "
         "left lower lobe.", False),
        ("FINDINGS: Focal consolidation in the lateral aspect of the left upper lobe. IMPRESSION: Pneumonia.",
         "There is focal consolidation in the lateral left lung; on the frontal view it sits high, so it is in the "
         "left upper lobe.", True),
        # "main" and "worst" name no thing: the markings' place is compared
        ("FINDINGS: Diffuse bilateral interstitial markings, greatest in the right lung base. IMPRESSION: Fibrosis.",
         "The main abnormality is the interstitial markings, which are worst in the right upper lobe.", False),
        ("FINDINGS: Diffuse bilateral interstitial markings, greatest in the right lung base. IMPRESSION: Fibrosis.",
         "The main abnormality is the interstitial markings, which are worst at the right base.", True),
        # a thing said to be limited to a place or side the report does not restrict it to
        ("FINDINGS: Numerous calcified granulomas throughout both lungs. IMPRESSION: Old granulomatous disease.",
         "There are calcified granulomas limited to the upper lobes, none of which is acute.", False),
        ("FINDINGS: Numerous calcified granulomas throughout both lungs. IMPRESSION: Old granulomatous disease.",
         "There are calcified granulomas, none of which is acute.", True),
        ("FINDINGS: Marked degenerative changes of the XXXX are noted bilaterally. IMPRESSION: Arthritis.",
         "These degenerative changes are confined to the left side.", False),
    ],
)
def test_pronouns_after_a_phrase_ranking_words_and_restricted_extent(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a device moved since the prior against one in unchanged position
        ("FINDINGS: Low lung volumes. The tracheostomy tube is in unchanged position. IMPRESSION: Low volumes.",
         "The tracheostomy tube has been repositioned since the prior study.", False),
        ("FINDINGS: Low lung volumes. The tracheostomy tube is in unchanged position. IMPRESSION: Low volumes.",
         "The tracheostomy tube is unchanged in position.", True),
        # a recommendation to exclude a finding keeps it open
        ("FINDINGS: Right upper lobe infiltrate. IMPRESSION: Pneumonia. Recommend follow-up radiographs in 6 weeks to "
         "ensure resolution and exclude an underlying mass.", "The radiologist states that an underlying mass has "
         "been excluded.", False),
        ("FINDINGS: Right upper lobe infiltrate. IMPRESSION: Pneumonia. Recommend follow-up radiographs in 6 weeks to "
         "ensure resolution and exclude an underlying mass.", "Follow-up films are advised to ensure resolution and "
         "exclude an underlying mass.", True),
        ("FINDINGS: Right upper lobe infiltrate. IMPRESSION: Pneumonia. Recommend follow-up radiographs in 6 weeks to "
         "ensure resolution and exclude an underlying mass.", "An underlying mass cannot be excluded yet.", True),
        # one of two readings kept and the other denied
        ("FINDINGS: Hyperexpanded lungs. IMPRESSION: Hyperexpansion, air trapping versus a deep inspiration.",
         "This simply reflects a deep inspiration, not air trapping.", False),
        ("FINDINGS: Hyperexpanded lungs. IMPRESSION: Hyperexpansion, air trapping versus a deep inspiration.",
         "Air trapping or a deep inspiration is possible.", True),
    ],
)
def test_moved_devices_recommended_exclusions_and_one_reading_denied(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # one size in two units
        ("FINDINGS: A solitary 7 mm nodule in the left upper lobe. IMPRESSION: Left upper lobe nodule.",
         "The nodule measures 0.7 cm.", True),
        ("FINDINGS: A solitary 7 mm nodule in the left upper lobe. IMPRESSION: Left upper lobe nodule.",
         "The nodule measures 1.7 cm.", False),
        ("FINDINGS: A 2.5 cm mass in the right hilum. IMPRESSION: Hilar mass.", "The hilar mass measures 25 mm.", True),
        # a pair is two
        ("FINDINGS: A solitary 7 mm nodule in the left upper lobe. IMPRESSION: Left upper lobe nodule.",
         "A pair of nodules is seen in the left upper lobe.", False),
        # many of what the report names once, one of what it names as many
        ("FINDINGS: Calcified granuloma in the right upper lobe. Calcified hilar nodes. IMPRESSION: Old granulomatous "
         "disease.", "There are multiple calcified granulomas in the right upper lobe.", False),
        ("FINDINGS: Calcified granuloma in the right upper lobe. Calcified hilar nodes. IMPRESSION: Old granulomatous "
         "disease.", "Several calcified hilar nodes are seen.", True),
        ("FINDINGS: Multiple calcified granulomas in both lungs. IMPRESSION: Old granulomatous disease.",
         "There is a solitary calcified granuloma.", False),
        ("FINDINGS: Multiple calcified granulomas in both lungs. IMPRESSION: Old granulomatous disease.",
         "There are multiple calcified granulomas.", True),
        # "both pleural spaces" are both sides
        ("FINDINGS: Small left pleural effusion. IMPRESSION: Small effusion.",
         "Both pleural spaces contain small effusions.", False),
        # "non-calcified" where the report's granuloma is calcified
        ("FINDINGS: Calcified granuloma in the right upper lobe. IMPRESSION: Old granulomatous disease.",
         "The granuloma is non-calcified.", False),
        ("FINDINGS: Nondisplaced fracture of the left 6th rib. IMPRESSION: Rib fracture.",
         "The rib fracture is non-displaced.", True),
        # change over time in other words
        ("FINDINGS: Unchanged small left pleural effusion. IMPRESSION: Stable effusion.",
         "The left effusion has shrunk since the prior exam.", False),
        ("FINDINGS: Unchanged small left pleural effusion. IMPRESSION: Stable effusion.",
         "There has been interval enlargement of the left effusion.", False),
        ("FINDINGS: Unchanged small left pleural effusion. IMPRESSION: Stable effusion.",
         "The left effusion has evolved since the prior study.", False),
    ],
)
def test_units_counts_plural_sides_prefixes_and_changes_in_other_words(validator, text, step, good):
    assert_judged(validator, text, step, good, comparison="Prior chest radiograph.")


@pytest.mark.parametrize(
    "text,step,good",
    [
        # calcification, tortuosity and ectasia the report never words in any form
        ("FINDINGS: Normal heart size. Tortuous aorta. Clear lungs. IMPRESSION: No acute disease.",
         "The aorta is tortuous and densely calcified.", False),
        ("FINDINGS: Normal heart size. Tortuous aorta. Clear lungs. IMPRESSION: No acute disease.",
         "The aorta shows tortuosity.", True),
        ("FINDINGS: Atherosclerotic aorta. Clear lungs. IMPRESSION: No acute disease.",
         "The aorta is calcified.", True),
        # granulomas a radiograph shows are calcified
        ("FINDINGS: Clear lungs. Multiple granulomas. IMPRESSION: Old granulomatous disease.",
         "There are multiple small calcified granulomas scattered in the lungs.", True),
        # a grade in words of size the lexicon did not have
        ("FINDINGS: Cardiomegaly. Hiatal hernia. IMPRESSION: Cardiomegaly.", "The heart is massively enlarged.", False),
        ("FINDINGS: Cardiomegaly. Hiatal hernia. IMPRESSION: Cardiomegaly.", "The hiatal hernia is huge.", False),
        ("FINDINGS: Massive cardiomegaly. Large hiatal hernia. IMPRESSION: Cardiomegaly.",
         "The heart is massively enlarged and the hiatal hernia is huge.", True),
        # a count stated before a hedge of something else ("probably from prior surgery")
        ("FINDINGS: Surgical clips in the left axilla. Stable 2 cm right upper lobe nodule. IMPRESSION: Negative.",
         "Two surgical clips are in the left axilla, probably from prior surgery.", False),
        ("FINDINGS: Two surgical clips in the left axilla. Clear lungs. IMPRESSION: Negative.",
         "Two surgical clips are in the left axilla, probably from prior surgery.", True),
    ],
)
def test_terms_in_no_form_and_counts_before_a_hedge(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a spine called normal against its curvature ("dextroscoliosis" is a word of abnormality)
        ("FINDINGS: Clear lungs. Mild thoracic levoscoliosis. IMPRESSION: No acute disease.",
         "The spine is normal.", False),
        ("FINDINGS: Clear lungs. Mild thoracic levoscoliosis. IMPRESSION: No acute disease.",
         "The thoracic spine shows mild levoscoliosis.", True),
        # "X isn't mentioned, so it is normal" calls X normal
        ("FINDINGS: Clear lungs. Mild thoracic levoscoliosis. IMPRESSION: No acute disease.",
         "The report doesn't mention the spine, so it is normal.", False),
        ("FINDINGS: Clear lungs. Mild thoracic levoscoliosis. IMPRESSION: No acute disease.",
         "The report doesn't mention the heart, so it is normal.", True),
        # the omission is of what its own stretch names
        ("FINDINGS: Normal heart size. Low lung volumes. No focal airspace disease. IMPRESSION: Low volumes.",
         "Low volumes can crowd the lung markings and mimic opacity, but the radiologist didn't describe any.", True),
        ("FINDINGS: Clear lungs. Right IJ catheter with tip in the SVC. IMPRESSION: Line as above.",
         "An endotracheal tube isn't mentioned, so there isn't one.", True),
        ("FINDINGS: Small bilateral effusions. Streaky bibasilar opacities, seen only on the frontal view, likely "
         "atelectasis. IMPRESSION: Atelectasis.", "At both bases there is streaky opacity, visible only on the "
         "frontal view, probably atelectasis.", True),
        # one side "only" of what the report has on both; "larger than" ranks, it is no grade
        ("FINDINGS: Small bilateral pleural effusions, left greater than right. IMPRESSION: Effusions.",
         "There is a small left effusion only.", False),
        ("FINDINGS: Small bilateral pleural effusions, left greater than right. IMPRESSION: Effusions.",
         "The left effusion is larger than the right.", True),
        # a term the report denies by prefix is a denial's conflict, not an invented finding
        ("FINDINGS: Noncalcified nodule in the left upper lobe. IMPRESSION: Nodule.",
         "The nodule is densely calcified.", False),
    ],
)
def test_curvature_words_things_unmentioned_and_called_normal(validator, text, step, good):
    assert_judged(validator, text, step, good)


def test_a_prefixed_denial_keeps_its_reason(validator):
    got = judged(validator, "FINDINGS: Noncalcified nodule in the left upper lobe. IMPRESSION: Nodule.",
                 "The nodule is densely calcified.")
    assert "negation_conflict" in got.reasons and "finding_not_in_report" not in got.reasons, got.reasons


@pytest.mark.parametrize(
    "before,step,good",
    [
        # "It is normal" after a step about the spine calls the spine normal, against its curvature
        (["Next, I will look at the spine."], "It is normal.", False),
        (["Next, I will look at the lungs."], "They are clear.", True),
    ],
)
def test_a_pronoun_called_normal_speaks_of_the_step_before(validator, before, step, good):
    text = "FINDINGS: Clear lungs. Mild thoracic levoscoliosis. IMPRESSION: No acute disease."
    assert_judged(validator, text, step, good, before=before)


@pytest.mark.parametrize(
    "options,answer,last,good",
    [
        # an option named only inside a longer option's words is not named ("normal" in "upper limits of normal")
        (["Enlarged", "Upper limits of normal", "Normal"], ["Upper limits of normal"],
         "**Answer: Upper limits of normal**", True),
        (["Enlarged", "Upper limits of normal", "Normal"], ["Normal"], "**Answer: Upper limits of normal**", False),
        (["Acute displaced rib fracture", "No acute displaced rib fracture"], ["No acute displaced rib fracture"],
         "Answer: no acute displaced rib fracture.", True),
        (["Acute displaced rib fracture", "No acute displaced rib fracture"], ["Acute displaced rib fracture"],
         "Answer: no acute displaced rib fracture.", False),
    ],
)
def test_an_option_inside_a_longer_option_is_not_named(validator, options, answer, last, good):
    report = Report(report_id="normal", text=REPORTS["normal"])
    chain = Chain(chain_id="t", report_id="normal", question="Which applies?", options=options, answer=answer,
                  steps=["The lungs are clear.", last])
    step = validator.validate(chain, report).steps[1]
    assert step.label is good, (last, step.reasons)
    assert ("answer_mismatch" in step.reasons) is (not good)


_HEALED = ("FINDINGS: The lungs are clear. Osseous structures of the thorax show healed, remote left rib fractures "
           "without acute abnormality. IMPRESSION: No acute disease.")
_NODES = "FINDINGS: The heart is normal in size. Mediastinum within normal limits. Lungs clear. IMPRESSION: Normal."


@pytest.mark.parametrize(
    "text,step,good",
    [
        # what a step states before its hedge is stated: the nodes are asserted, their cause is hedged
        (_NODES, "There are a few calcified hilar lymph nodes, likely from old granulomatous disease.", False),
        ("FINDINGS: Calcified right hilar lymph nodes. Lungs clear. IMPRESSION: Old granulomatous disease.",
         "There are calcified hilar lymph nodes, likely from old granulomatous disease.", True),
        # an ordinal that orders the reasoning, and a numbered option, are no numbers of the patient
        (_NODES, "First, the heart is normal in size.", True),
        (_NODES, "The lungs are clear, so statement 3 is supported.", True),
        ("FINDINGS: Healed left 5th rib fracture. IMPRESSION: Old fracture.", "The first rib is fractured.", False),
        # a denial of a recent thing beside an old one; a recent thing where the report has an old one
        (_HEALED, "No acute fracture is seen.", True),
        (_HEALED, "There are no rib fractures.", False),
        (_HEALED, "The rib fractures are recent.", False),
        (_HEALED, "The fractures are still healing.", False),
        (_HEALED, "The left rib fractures are old and healed.", True),
        # a change in other words
        ("FINDINGS: Mild cardiomegaly, stable mediastinal contours. IMPRESSION: Cardiomegaly.",
         "The mediastinal contours look different from the prior study.", False),
        # places: the level of a tip in the SVC, the end of a long bone, which phrenic angle, the mid zone
        ("FINDINGS: Right chest port with catheter tip overlying the high SVC. IMPRESSION: Port.",
         "The catheter tip is in the lower SVC.", False),
        ("FINDINGS: Right chest port with catheter tip overlying the high SVC. IMPRESSION: Port.",
         "The catheter tip overlies the upper SVC.", True),
        ("FINDINGS: Degenerative change of the right shoulder and a distal right humeral amputation. "
         "IMPRESSION: No acute disease.", "There is an amputation at the proximal right humerus.", False),
        ("FINDINGS: Degenerative change of the right shoulder and a distal right humeral amputation. "
         "IMPRESSION: No acute disease.", "There is an amputation of the distal right humerus.", True),
        ("FINDINGS: Patchy opacities at the left apex and right base. IMPRESSION: Patchy left apical and right "
         "basilar airspace disease.", "There are patchy opacities at the left apex and in the right mid zone.",
         False),
        # "<thing> shows <abnormality>" against the report's "<thing> is normal"
        ("FINDINGS: Pulmonary vascularity is normal. Lungs are clear. IMPRESSION: Normal.",
         "The pulmonary vascularity shows mild congestion.", False),
        ("FINDINGS: Pulmonary vascularity is normal. Lungs are clear. IMPRESSION: Normal.",
         "The pulmonary vascularity is normal.", True),
        # hardware in other words
        ("FINDINGS: Bony structures intact. Right humeral head bone anchor. IMPRESSION: Normal.",
         "There is a bone anchor in the left humeral head.", False),
        (_NODES, "There is an intramedullary rod in the right humerus.", False),
    ],
)
def test_stated_before_a_hedge_ordinals_ages_changes_and_places(validator, text, step, good):
    assert_judged(validator, text, step, good)


_RESOLVED = ("FINDINGS: Moderate cardiomegaly. Interval resolution of the previously seen interstitial edema. Small "
             "bilateral pleural effusions, decreased. IMPRESSION: Resolved edema. Decreasing small effusions.")
_TUBE = ("FINDINGS: Right chest tube in place with tip at the apex. No residual pneumothorax. Small right pleural "
         "effusion. IMPRESSION: Resolved right pneumothorax.")
_RIBS = ("FINDINGS: Healed fractures of the left sixth and seventh ribs. Old healed fractures of the right posterior "
         "3rd through 5th ribs. IMPRESSION: Old healed rib fractures.")
_T12 = ("FINDINGS: Compression deformity of the T12 vertebral body, of indeterminate age, new since the prior study. "
        "Lungs are clear. IMPRESSION: New T12 compression deformity of indeterminate age.")
_LLL = ("FINDINGS: Compared with prior, the previously seen left lower lobe consolidation has largely resolved, with "
        "minimal residual opacity. IMPRESSION: Near-complete resolution of left lower lobe pneumonia.")


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a denial that a verb ends reaches no further: "has resolved and ...", "has resolved with ..."
        (_RESOLVED, "The edema has resolved and the effusions are smaller.", True),
        (_RESOLVED, "The edema is unchanged.", False),
        (_TUBE, "The right pneumothorax has resolved with the chest tube in place.", True),
        (_TUBE, "The right chest tube has been removed.", False),
        # nor onto what the denied thing would go with
        ("FINDINGS: Acute fracture of the right clavicle midshaft. No pneumothorax. IMPRESSION: Clavicle fracture.",
         "No pneumothorax accompanies the fracture.", True),
        ("FINDINGS: Acute fracture of the right clavicle midshaft. No pneumothorax. IMPRESSION: Clavicle fracture.",
         "There is no pneumothorax associated with the fracture.", True),
        ("FINDINGS: Right rib fracture. No associated pneumothorax. IMPRESSION: Fracture.",
         "There is an associated pneumothorax.", False),
        ("FINDINGS: Low lung volumes. Tortuous aorta. No pneumothorax. IMPRESSION: No acute disease.",
         "The lung volumes are low and the aorta is tortuous, but neither is associated with a pneumothorax.", True),
        # ordinals quoted as numbers, and counted
        (_RIBS, "Two old, healed rib fractures are seen on the left (ribs 6 and 7).", True),
        (_RIBS, "Old healed fractures of left ribs six and seven.", True),
        (_RIBS, "Healed fractures involve three right posterior ribs, the third through the fifth.", True),
        (_RIBS, "Healed fractures of left ribs 7 and 8.", False),
        # an age the report leaves undetermined
        (_T12, "The T12 compression fracture is acute.", False),
        (_T12, "There is a new T12 compression deformity.", True),
        ("FINDINGS: Mild age-indeterminate wedging of a lower thoracic vertebra. Left-sided rib deformities "
         "consistent with old fractures. IMPRESSION: No acute disease.",
         "There are left-sided rib deformities consistent with old fractures.", True),
        # almost cleared is not cleared; "the previously seen X" is no "unchanged"; "not previously seen" is new
        (_LLL, "The left lower lobe consolidation is unchanged from prior.", False),
        (_LLL, "The left lower lobe consolidation seen before has almost entirely cleared.", True),
        (_LLL, "Overall the left lower lobe pneumonia is improving, nearly resolved.", True),
        ("FINDINGS: 1.5 cm nodule in the left upper lobe, new compared with prior. IMPRESSION: New nodule.",
         "The left upper lobe nodule was not previously seen.", True),
        # lobe abbreviations, lobectomies, a single-chamber device, slashed alternatives, hyphenated device names
        ("FINDINGS: Opacity in the right lower lobe. IMPRESSION: Right lower lobe opacity.",
         "The opacity lies in the RML.", False),
        ("FINDINGS: Opacity in the right lower lobe. IMPRESSION: Right lower lobe opacity.",
         "The opacity is in the RLL.", True),
        ("FINDINGS: Status post right upper lobectomy with surgical clips at the right hilum. IMPRESSION: Stable.",
         "The patient had a right lower lobectomy.", False),
        ("FINDINGS: Left chest wall dual-chamber pacemaker with leads in the right atrium and right ventricle. "
         "IMPRESSION: Pacemaker.", "The pacemaker is a single-chamber device.", False),
        ("FINDINGS: Enteric tube courses below the diaphragm with tip in the stomach. IMPRESSION: Tube as above.",
         "The nasogastric/enteric tube terminates in the stomach.", True),
        ("FINDINGS: Left-sided Port-A-Cath with catheter tip at the cavoatrial junction. IMPRESSION: Port.",
         "The left-sided port ends at the cavoatrial junction.", True),
        # a view named for a side is no side; "whether" keeps a thing open
        ("FINDINGS: Lucency beneath the right hemidiaphragm, which may represent free air. IMPRESSION: Possible "
         "free air; recommend left lateral decubitus radiograph.",
         "Next, a left lateral decubitus film would clarify whether this is free air.", True),
        # a calcified aorta in other words; the reason for a reading is not hedged with it
        ("FINDINGS: Tortuous, calcified thoracic aorta. IMPRESSION: No acute process.",
         "The thoracic aorta is tortuous with atherosclerotic calcification.", True),
        ("FINDINGS: 8 mm nodule in the right upper lobe, unchanged from 2 years ago. IMPRESSION: Stable nodule, "
         "likely benign given 2-year stability.", "Given two years of stability, the nodule is probably benign.",
         True),
    ],
)
def test_scopes_ordinals_ages_and_device_words(validator, text, step, good):
    assert_judged(validator, text, step, good)


_SIDED = ("FINDINGS: Compared with the prior study, there is interval increase in a moderate right pleural effusion. "
          "Small left pleural effusion is unchanged. IMPRESSION: Increased right effusion.")


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a hedged level stated as certain
        ("FINDINGS: Compression deformity of a lower thoracic vertebral body, likely T11, new compared to ___. "
         "IMPRESSION: New compression deformity, likely T11.", "The compression fracture is at T11.", False),
        ("FINDINGS: Compression deformity of a lower thoracic vertebral body, likely T11, new compared to ___. "
         "IMPRESSION: New compression deformity, likely T11.", "The deformity is probably at T11.", True),
        # a sided change or grade is read against the sentence about that side
        (_SIDED, "The left effusion has increased.", False),
        (_SIDED, "The right-sided effusion has increased but is still small.", False),
        (_SIDED, "The right effusion has increased and is now moderate.", True),
        (_SIDED, "The left effusion is unchanged.", True),
        # what a hedged sentence states before its hedge, against a thing called normal
        ("FINDINGS: Bilateral hilar enlargement, which may reflect lymphadenopathy versus prominent pulmonary "
         "arteries. Lungs are clear. IMPRESSION: Hilar prominence.", "The hila are normal in size.", False),
        ("FINDINGS: Bilateral hilar enlargement, which may reflect lymphadenopathy versus prominent pulmonary "
         "arteries. Lungs are clear. IMPRESSION: Hilar prominence.",
         "The hilar enlargement may be adenopathy or prominent pulmonary arteries.", True),
        # a change denied is no change
        ("FINDINGS: Pneumomediastinum is slightly decreased. Small bilateral pleural effusions are unchanged. "
         "IMPRESSION: Slightly decreased pneumomediastinum.",
         "The pneumomediastinum hasn't resolved; it's only slightly decreased.", True),
        ("FINDINGS: Pneumomediastinum is slightly decreased. Small bilateral pleural effusions are unchanged. "
         "IMPRESSION: Slightly decreased pneumomediastinum.", "The effusions have not yet decreased.", True),
        ("FINDINGS: Pneumomediastinum is slightly decreased. Small bilateral pleural effusions are unchanged. "
         "IMPRESSION: Slightly decreased pneumomediastinum.", "The effusions have decreased.", False),
    ],
)
def test_hedged_levels_sided_changes_and_hedged_sentences(validator, text, step, good):
    assert_judged(validator, text, step, good)


_LINES = ("FINDINGS: Right IJ central venous catheter with tip in the mid SVC. Endotracheal tube terminates 4 cm above "
          "the carina. Enteric tube courses below the diaphragm, tip not visualized. Moderate cardiomegaly. Small "
          "bilateral pleural effusions. No pneumothorax. IMPRESSION: Lines and tubes as above.")
_RESOLVED_LLL = ("FINDINGS: Compared with XXXX, interval resolution of previously seen left lower lobe opacity. Lungs "
                 "are now clear. IMPRESSION: Resolved left lower lobe pneumonia.")


@pytest.mark.parametrize(
    "text,step,good",
    [
        # findings answered one by one ("Edema: no", "Pneumothorax - No", "pneumothorax = no")
        (_LINES, "Final answer: Cardiomegaly: yes. Edema: no. Effusion: yes.", True),
        (_LINES, "Final answer: Pneumothorax - No.", True),
        (_LINES, "So cardiomegaly = yes; pneumothorax = no.", True),
        (_LINES, "Final answer: Cardiomegaly: no.", False),
        (_LINES, "Effusion: no.", False),
        # a tip not seen is no tube removed; a reference range is no measurement
        (_LINES, "There is a right internal jugular CVC, an endotracheal tube, and an enteric tube.", True),
        (_LINES, "So the ETT is 4cm above the carina, an acceptable position (normal is about 3-5 cm).", True),
        # both apices
        ("FINDINGS: Hyperinflated lungs. Biapical pleural thickening. IMPRESSION: COPD.",
         "There is pleural thickening at both lung apices.", True),
        ("FINDINGS: Hyperinflated lungs. Biapical pleural thickening. IMPRESSION: COPD.",
         "There is pleural thickening at the left base.", False),
        # resolved, but on the other side or in another lobe
        (_RESOLVED_LLL, "The previously noted right lower lobe opacity has resolved.", False),
        (_RESOLVED_LLL, "The previously seen left upper lobe opacity has resolved in the interval.", False),
        (_RESOLVED_LLL, "The left lower lobe opacity has resolved.", True),
        # hila called normal beside hilar prominence or fullness
        ("FINDINGS: New 2 cm mass in the right lower lobe. Right hilar fullness. IMPRESSION: Mass.",
         "The hila are unremarkable.", False),
        # which part of a long bone; both joints for one
        ("FINDINGS: Old healed fracture of the right clavicle midshaft. IMPRESSION: Old fracture.",
         "There is an old fracture of the distal right clavicle.", False),
        ("FINDINGS: Old healed fracture of the right clavicle midshaft. IMPRESSION: Old fracture.",
         "There is an old healed fracture of the mid right clavicle.", True),
        ("FINDINGS: Right shoulder arthroplasty. Degenerative changes of the left acromioclavicular joint. "
         "IMPRESSION: No acute disease.", "Degenerative changes are seen in both acromioclavicular joints.", False),
        # the lingula is part of the left upper lobe; still there and smaller
        ("FINDINGS: Minimal patchy opacity in the lingula, which may represent subsegmental atelectasis. "
         "IMPRESSION: Minimal lingular opacity.", "The opacity is in the lingula, which is part of the left upper "
         "lobe.", True),
        ("FINDINGS: Small right apical pneumothorax, approximately 1 cm, decreased from prior. IMPRESSION: Small "
         "right apical pneumothorax, decreased.",
         "A small right apical pneumothorax of about 1 cm persists but is smaller than before.", True),
        ("FINDINGS: Small right apical pneumothorax, approximately 1 cm, decreased from prior. IMPRESSION: Small "
         "right apical pneumothorax, decreased.", "The small right apical pneumothorax persists unchanged.", False),
    ],
)
def test_answer_lists_tips_ranges_resolved_sides_and_bones(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "after chest tube removal" removed the tube
        ("FINDINGS: The right pleural effusion has decreased. No pneumothorax. IMPRESSION: Decreasing right effusion "
         "after chest tube removal.", "A right-sided chest tube is still in place.", False),
        ("FINDINGS: The right pleural effusion has decreased. No pneumothorax. IMPRESSION: Decreasing right effusion "
         "after chest tube removal.", "The chest tube is no longer present.", True),
        # the aortic knob is the arch, the root is the ascending aorta; both clavicles include the left one
        ("FINDINGS: Calcification of the aortic knob. Lungs are clear. IMPRESSION: No acute process.",
         "There is calcification of the aortic root.", False),
        ("FINDINGS: Calcification of the aortic knob. Lungs are clear. IMPRESSION: No acute process.",
         "There is calcification of the aortic knob.", True),
        ("FINDINGS: Deformity of the left distal clavicle compatible with remote fracture. IMPRESSION: No acute "
         "disease.", "Both clavicles look intact and normally aligned.", False),
    ],
)
def test_removals_aortic_parts_and_both_sides_called_normal(validator, text, step, good):
    assert_judged(validator, text, step, good)


_NIPPLE = ("FINDINGS: There is a 9 mm nodular opacity projecting over the left mid lung, which may represent a nipple "
           "shadow. The lungs are otherwise clear. IMPRESSION: Nodular opacity, possibly nipple shadow.")
_PICC = ("FINDINGS: Tracheostomy tube in place, tip 5 cm above the carina. Right arm PICC tip in the right atrium. "
         "IMPRESSION: Right PICC tip in the right atrium; recommend withdrawal by 2 cm.")


@pytest.mark.parametrize(
    "text,step,good",
    [
        # readings drawn from what the report states
        ("FINDINGS: Moderate cardiomegaly. Interstitial edema, increased from prior. Small bilateral pleural "
         "effusions. IMPRESSION: Worsening edema.",
         "Worsening edema with cardiomegaly and effusions suggests fluid overload or decompensated heart failure.",
         True),
        ("FINDINGS: Multiple calcified mediastinal and left hilar lymph nodes. IMPRESSION: Prior granulomatous "
         "disease.", "Calcified nodes in the mediastinum and left hilum -> old granulomatous disease.", True),
        ("FINDINGS: Median sternotomy wires are intact. IMPRESSION: Post-CABG changes.",
         "Sternotomy wires are intact, consistent with prior coronary bypass surgery.", True),
        ("FINDINGS: Moderate cardiomegaly. IMPRESSION: Cardiomegaly.", "There is a nodule, suggesting lung cancer.",
         False),
        # a hedged denial keeps the thing open
        (_NIPPLE, "That opacity might not be a true nodule at all; it could just be the nipple.", True),
        (_NIPPLE, "The radiologist is not certain the opacity is a true nodule; it could be a nipple shadow.", True),
        (_NIPPLE, "The opacity is definitely not a nodule.", False),
        # no action needed, where the report recommends one about the same thing
        (_PICC, "The PICC position is acceptable and needs no adjustment.", False),
        (_PICC, "The tracheostomy tube needs no adjustment.", True),
        (_PICC, "The PICC should be pulled back by 2 cm.", True),
    ],
)
def test_readings_hedged_denials_and_actions(validator, text, step, good):
    assert_judged(validator, text, step, good)


_CHRONIC = ("FINDINGS: Sternotomy wires. A small left pleural effusion, chronic and unchanged. No pulmonary edema. "
            "IMPRESSION: Chronic small left pleural effusion.")
_LEAD = "FINDINGS: A single-lead AICD is present with the lead terminating in the right ventricle. IMPRESSION: AICD."
_SHIFT = ("FINDINGS: Large right pleural effusion with near-complete opacification of the right hemithorax and "
          "leftward mediastinal shift. IMPRESSION: Large right effusion with leftward mediastinal shift.")
_IJ = ("FINDINGS: The heart is normal in size. Left IJ dual-lumen catheter is visualized without pneumothorax. The "
       "lungs are clear. IMPRESSION: No acute disease.")


@pytest.mark.parametrize(
    "text,step,good",
    [
        # what a thing does not reflect is no denial of the thing; a denial does not reach past "so" or a "since" clause
        (_CHRONIC, "The effusion is not likely to reflect acute decompensation.", True),
        (_CHRONIC, "There is no pulmonary edema, so the effusion is not likely to reflect acute decompensation.", True),
        (_CHRONIC, "Since there is no pulmonary edema, the effusion is not likely to reflect acute decompensation.",
         True),
        (_CHRONIC, "The effusion is not present.", False),
        ("FINDINGS: Right lower lobe opacity, possibly pneumonia. IMPRESSION: Possible pneumonia.",
         "The opacity does not represent pneumonia.", False),
        # the way a lead takes is not where it ends
        (_LEAD, "There is a single lead, which courses through the SVC and right atrium and ends at the right "
                "ventricular apex.", True),
        (_LEAD, "The lead passes through the right atrium into the right ventricle.", True),
        (_LEAD, "The lead ends in the right atrium.", False),
        # the way the mediastinum is pushed, in a sentence naming the other side for the effusion
        (_SHIFT, "The mediastinum is shifted to the left.", True),
        (_SHIFT, "The trachea and heart are displaced toward the right, toward the opacified side.", False),
        (_SHIFT, "The mediastinum is shifted to the right.", False),
        # a target the step compares with is general knowledge
        ("FINDINGS: A left internal jugular central venous catheter terminates in the left brachiocephalic vein. "
         "IMPRESSION: Left IJ catheter terminates in the left brachiocephalic vein.",
         "That is shorter than the usual target in the lower SVC.", True),
        # "never mentioned, so" is an omission
        ("FINDINGS: The lungs are clear. No pleural effusion. IMPRESSION: Normal chest.",
         "Pleural thickening is never mentioned, so it is not present.", True),
        # a hedged reading ruled out in a longer step
        ("FINDINGS: Patchy opacity in the right mid lung may represent contusion. IMPRESSION: Possible contusion.",
         "It is best treated as a nonspecific opacity and not a contusion.", False),
        # the side of a line, however the step words its way in
        (_IJ, "A dual-lumen catheter enters from the right internal jugular vein.", False),
        (_IJ, "A dual-lumen catheter enters from the left internal jugular vein.", True),
        # a second thing after "in addition to" does not shield the first
        ("FINDINGS: No airspace disease, effusion or noncalcified nodule. Calcified granuloma seen bilaterally. "
         "IMPRESSION: No acute disease.", "There is a noncalcified nodule in addition to the calcified ones.", False),
        # "wasn't on the recent prior study" is a change, not a denial
        ("FINDINGS: There is a focal area of opacity in the right midlung zone. This was not present on the recent "
         "prior study. IMPRESSION: Focal opacity in the right midlung zone.",
         "There's a focal opacity in the right lower lung zone that wasn't on the recent prior study.", False),
    ],
)
def test_reflections_paths_shifts_and_long_steps(validator, text, step, good):
    assert_judged(validator, text, step, good)


_HUMERUS = ("FINDINGS: Mild cardiomegaly. Fracture of right proximal humerus, incompletely evaluated. IMPRESSION: "
            "Fracture of right proximal humerus.")
_FEEDING = ("IMPRESSION: Feeding tube terminates in the distal esophagus, approximately 3 cm above the "
            "gastroesophageal junction; recommend advancement by at least 10 cm.")


@pytest.mark.parametrize(
    "text,step,good",
    [
        # plans without a verb of their own, general knowledge with "can"
        ("FINDINGS: No pneumothorax. No pneumonia. IMPRESSION: No acute disease.", "Report check for pneumonia.", True),
        ("FINDINGS: No pneumothorax. No pneumonia. IMPRESSION: No acute disease.",
         "Check for pneumonia: there is pneumonia in the left lower lobe.", False),
        ("FINDINGS: The heart is normal in size. Pectus deformity is noted. IMPRESSION: No acute disease.",
         "Pectus excavatum can displace the heart and make it look enlarged on the frontal view, but here the heart "
         "is normal in size.", True),
        ("FINDINGS: Small left apical pneumothorax, unchanged. Mild leftward shift of the mediastinum after left upper "
         "lobectomy. IMPRESSION: Unchanged small pneumothorax.",
         "In tension pneumothorax the mediastinum is pushed away from the affected side.", True),
        # a denied fracture of one bone says nothing of another
        (_HUMERUS, "No rib fracture is mentioned, so we can assume there is none.", True),
        (_HUMERUS, "There is no humerus fracture.", False),
        (_HUMERUS, "There is no fracture.", False),
        # where a tube should go is not where it is
        (_FEEDING, "It needs to be advanced so that the tip lies within the stomach.", True),
        (_FEEDING, "The tip lies within the stomach.", False),
    ],
)
def test_plans_bones_and_goals(validator, text, step, good):
    assert_judged(validator, text, step, good)


def test_an_answer_line_is_read_by_the_answer_it_ends_on(validator):
    report = Report(report_id="r", text="FINDINGS: The lungs are clear without focal consolidation, pleural effusion "
                                        "or pneumothorax. IMPRESSION: No acute cardiopulmonary process.")
    options = ["A. Consolidation", "B. Cardiomegaly", "C. Pneumothorax", "D. Rib fracture", "E. None of the above"]
    step = "**Answer:** None of options A-D are present, so the answer is E."

    def last(answer):
        chain = Chain(chain_id="t", report_id="r", question="Which of the following are present?", options=options,
                      answer=answer, steps=["Let me look at the lungs.", step])
        return validator.validate(chain, report).steps[-1]

    assert last(["E. None of the above"]).label is True
    assert "answer_mismatch" in last(["A. Consolidation"]).reasons


@pytest.mark.parametrize(
    "text,step,good",
    [
        # what a denied thing would sit on is not denied
        ("FINDINGS: There is moderate pulmonary edema with perihilar haziness. No pneumothorax. IMPRESSION: Moderate "
         "pulmonary edema.", "There is nothing to suggest pneumonia on top of the edema.", True),
        ("FINDINGS: There is moderate pulmonary edema with perihilar haziness. No pneumothorax. IMPRESSION: Moderate "
         "pulmonary edema.", "There is no edema.", False),
        # a term's word used for a line's course or a procedure
        ("FINDINGS: Right internal jugular central venous catheter with its tip in the mid SVC. IMPRESSION: Right IJ "
         "catheter in the mid SVC.",
         "I see a right internal jugular catheter descending with its tip projecting over the mid SVC.", True),
        ("FINDINGS: Status post left mastectomy with surgical clips in the left axilla. IMPRESSION: Stable.",
         "The patient is status post left mastectomy, with surgical clips in the left axilla from the nodal "
         "dissection.", True),
        ("FINDINGS: Status post left mastectomy with surgical clips in the left axilla. IMPRESSION: Stable.",
         "There is an aortic dissection.", False),
        # valves in different positions
        ("FINDINGS: Median sternotomy wires are present. A prosthetic aortic valve is noted. IMPRESSION: Stable.",
         "I don't see a mitral prosthesis or any pacemaker generator or leads.", True),
        ("FINDINGS: Median sternotomy wires are present. A prosthetic aortic valve is noted. IMPRESSION: Stable.",
         "I don't see an aortic valve prosthesis.", False),
    ],
)
def test_what_a_denial_sits_on_courses_procedures_and_valves(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # what a finding "usually means" is general knowledge, however the clause is cut
        ("FINDINGS: The lungs are clear. No pleural effusion. IMPRESSION: No acute disease.",
         "The question asks about a hernia, which on a chest film usually means a hiatal hernia behind the heart.",
         True),
        ("FINDINGS: The lungs are clear. No pleural effusion. IMPRESSION: No acute disease.",
         "There is a hiatal hernia behind the heart.", False),
        # two findings given as alternatives ("effusion/hemothorax") keep either open
        ("FINDINGS: Small right pleural effusion. IMPRESSION: Small right effusion/hemothorax.",
         "There is a small right hemothorax.", False),
        ("FINDINGS: Small right pleural effusion. IMPRESSION: Small right effusion/hemothorax.",
         "There is a small right effusion, possibly a hemothorax.", True),
    ],
)
def test_general_readings_and_slashed_alternatives(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "the left side looks a bit larger" ranks the sides
        ("FINDINGS: There are small pleural effusions, right larger than left. IMPRESSION: Small effusions.",
         "The left effusion looks slightly larger.", False),
        ("FINDINGS: There are small pleural effusions, right larger than left. IMPRESSION: Small effusions.",
         "The right one looks a bit larger.", True),
        # a generic device word for the kind of device the report names
        ("FINDINGS: The lungs are clear. Right humeral internal fixation XXXX is noted. IMPRESSION: No active disease.",
         "The orthopedic hardware is unrelated.", True),
        ("FINDINGS: The lungs are clear. IMPRESSION: No active disease.", "The orthopedic hardware is unrelated.",
         False),
    ],
)
def test_ranked_sides_and_generic_device_words(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "step,good",
    [
        ("Cardiomegaly means an enlarged cardiac silhouette, usually a cardiothoracic ratio above 0.5 on a PA film.",
         True),
        ("There is cardiomegaly, which means an enlarged heart.", False),
        ("Cardiomegaly is present.", False),
    ],
)
def test_a_definition_cut_at_its_verb_is_glue(validator, step, good):
    assert_judged(validator, "FINDINGS: The heart is normal in size. The lungs are clear. IMPRESSION: Normal chest.",
                  step, good)


_HEIGHT = ("FINDINGS: Compression fractures at T8 and L1, the L1 fracture new compared to prior with approximately 40% "
           "height loss. IMPRESSION: New L1 compression fracture with approximately 40% height loss.")


@pytest.mark.parametrize(
    "text,step,good",
    [
        (_HEIGHT, "The L1 one is new compared to the prior, with about a fifth of its height lost.", False),
        (_HEIGHT, "L1 has lost about 40% of its height.", True),
        ("FINDINGS: There is deformity of T12 and L1, unchanged. IMPRESSION: Deformities of T12 and L1.",
         "The vertebral bodies have lost roughly half of their height.", False),
    ],
)
def test_a_share_of_height_in_words_is_a_number(validator, text, step, good):
    assert_judged(validator, text, step, good)


_FIBROSIS = ("FINDINGS: There are bilateral lower lobe predominant reticular opacities, consistent with known "
             "pulmonary fibrosis, grossly unchanged. There is a superimposed new patchy opacity in the left mid lung. "
             "IMPRESSION: 1. Chronic bibasilar fibrotic changes, unchanged. 2. New left mid lung patchy opacity.")


@pytest.mark.parametrize(
    "step,good",
    [
        ("New: lower lobe reticular opacities, left mid lung patchy opacity.", False),
        ("New: left mid lung patchy opacity.", True),
        ("Unchanged: lower lobe reticular opacities.", True),
        ("Unchanged: left mid lung patchy opacity.", False),
    ],
)
def test_a_change_heading_applies_to_each_item_under_it(validator, step, good):
    assert_judged(validator, _FIBROSIS, step, good)


_ZONES = ("FINDINGS: There has been interval worsening of multifocal bilateral airspace opacities, now involving the "
          "right upper lobe, right lower lobe and left mid lung zone. IMPRESSION: Worsening multifocal opacities.")


@pytest.mark.parametrize(
    "step,good",
    [
        ("The opacities now involve the right upper lobe, the right middle lobe and the left mid lung zone.", False),
        ("The opacities now involve the right upper lobe, the right lower lobe and the left mid lung zone.", True),
    ],
)
def test_each_side_keeps_its_own_zone(validator, step, good):
    assert_judged(validator, _ZONES, step, good)


@pytest.mark.parametrize(
    "step,good",
    [
        ("There is a calcified granuloma in the left lower lung.", False),
        ("There is a calcified granuloma in the left upper lung.", True),
    ],
)
def test_a_side_the_report_puts_in_another_zone(validator, step, good):
    text = ("FINDINGS: The heart is normal in size. Calcified granuloma in the left upper lung is noted as well as "
            "right retrocardiac calcified nodule. IMPRESSION: No acute disease.")
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "dense" of a calcified thing, cement or a scar says how white it is, not how much
        ("FINDINGS: There is a 6 mm calcified nodule in the right upper lobe. IMPRESSION: Calcified granuloma.",
         "There is a small, dense, calcified nodule in the right upper lobe.", True),
        ("FINDINGS: There is a 6 mm calcified nodule in the right upper lobe. IMPRESSION: Calcified granuloma.",
         "There is a large calcified nodule in the right upper lobe.", False),
        ("FINDINGS: Vertebroplasty cement is present at T11, unchanged. IMPRESSION: Prior T11 vertebroplasty.",
         "Dense vertebroplasty cement is present in T11, unchanged.", True),
        ("FINDINGS: Spiculated, hyperdense scar in the left upper thorax. IMPRESSION: Postsurgical changes.",
         "In the left upper chest there's a spiculated, dense scar.", True),
        ("FINDINGS: Patchy opacity in the right lower lobe. IMPRESSION: Right lower lobe opacity.",
         "Dense consolidation in the right lower lobe.", False),
    ],
)
def test_dense_describes_calcified_things(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "step,good",
    [
        ("There's no mediastinal shift, so this isn't a tension pneumothorax.", True),
        ("There is no pneumothorax.", False),
    ],
)
def test_a_denied_tension_pneumothorax_leaves_the_pneumothorax(validator, step, good):
    text = ("FINDINGS: Small left apical pneumothorax measuring approximately 1.5 cm. No mediastinal shift. "
            "IMPRESSION: Small left apical pneumothorax.")
    assert_judged(validator, text, step, good)


_TUBES = ("FINDINGS: Stable left PICC with tip overlying the mid SVC and large XXXX feeding tube courses below the "
          "diaphragm. IMPRESSION: Interval removal of right chest tube, no pneumothorax.")
_CROWDING = ("FINDINGS: Low lung volumes with bronchovascular crowding. Scattered opacities in the right lung base "
             "representing foci of subsegmental atelectasis. IMPRESSION: Low lung volumes with scattered right basilar "
             "subsegmental atelectasis.")


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a removed chest tube is not every tube
        (_TUBES, "The report doesn't mention any feeding or enteric tube, so we can assume none is present.", False),
        (_TUBES, "There is no enteric tube.", False),
        (_TUBES, "The chest tube has been removed.", True),
        ("FINDINGS: Interval removal of the right IJ catheter. IMPRESSION: No acute disease.",
         "On the current film, that catheter has been removed in the interval.", True),
        # a line of the report's text is no device
        ("FINDINGS: Cardiomegaly is unchanged. Changes of prior right mastectomy. IMPRESSION: Stable chest.",
         "The last line of the findings describes changes of a prior left mastectomy.", False),
        ("FINDINGS: Cardiomegaly is unchanged. Changes of prior right mastectomy. IMPRESSION: Stable chest.",
         "The last line of the findings describes changes of a prior right mastectomy.", True),
        # a count a catheter's kind says
        ("FINDINGS: The distal tip of a right IJ dual-lumen central venous catheter is at the cavoatrial junction. "
         "IMPRESSION: No active disease.", "There is a triple-lumen central venous catheter from the right IJ.", False),
        # "X may be present" hedges X
        ("FINDINGS: A small amount of free intraperitoneal air may be present under the right hemidiaphragm. "
         "IMPRESSION: Question free air.", "The lucency under the right hemidiaphragm is free intraperitoneal air.",
         False),
        # an age set aside is not the thing (a reading the report states plainly, set aside with "rather than", is
        # not read as a denial: tried at stop 33, it flagged good steps of unread sets)
        (_CROWDING, "The opacities are atelectasis rather than crowding artifact.", True),
        ("FINDINGS: Healed remote right clavicle fracture. IMPRESSION: No acute disease.",
         "This is an old injury rather than an acute fracture.", True),
    ],
)
def test_tubes_text_lines_lumens_existence_hedges_and_ages_set_aside(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "wider than normal" is no normal statement
        ("FINDINGS: Heart size is mildly enlarged. IMPRESSION: Mild cardiomegaly.",
         "The heart is mildly enlarged, with the cardiac silhouette a bit wider than normal on the frontal view.",
         True),
        ("FINDINGS: Heart size is mildly enlarged. IMPRESSION: Mild cardiomegaly.",
         "The cardiac silhouette is normal.", False),
        # risks, what a thing can progress to and what is on the differential are reasoning
        ("FINDINGS: Right subclavian catheter tip is in the lower SVC. No pneumothorax. IMPRESSION: No acute findings.",
         "Central venous access carries a risk of pneumothorax, so this needs to be checked specifically.", True),
        ("FINDINGS: The heart is large. No infiltrates. IMPRESSION: Cardiomegaly and pulmonary venous hypertension.",
         "Venous hypertension can progress to pleural effusions, but none is described here.", True),
        ("FINDINGS: There is no focal infiltrate or pleural effusion. IMPRESSION: No definite infiltrate.",
         "The patient is hypoxic, so pneumonia is on the differential.", True),
    ],
)
def test_than_normal_risks_and_differentials(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # two hedges of one strength in a sentence each hedge their own phrase: the pneumonia after the lobe's
        # "probably" is hedged too
        ("FINDINGS: There is an opacity in the left midlung, probably in the left upper lobe, most suggestive of "
         "pneumonia. Heart size normal.", "There is pneumonia.", False),
        ("FINDINGS: There is an opacity in the left midlung, probably in the left upper lobe, most suggestive of "
         "pneumonia. Heart size normal.", "Pneumonia is probably present, in keeping with the opacity.", True),
        # while what the sentence states before its first hedge stays stated
        ("FINDINGS: A lobulated opacity is identified superior to the heart, in the anterior mediastinum, possibly "
         "consistent with a tortuous aorta versus an anterior mediastinal mass.",
         "There's a lobulated opacity above the heart, in the anterior mediastinum.", True),
    ],
)
def test_every_hedge_of_a_sentence_hedges_its_phrase(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "would" inside "beyond what ... would explain" / "than would be expected" does not make the step a
        # conditional: the main clause still asserts
        ("FINDINGS: Mild cardiomegaly is stable. The lungs are clear.",
         "The cardiac silhouette is severely enlarged, well beyond what AP magnification alone would explain.", False),
        ("FINDINGS: Mild cardiomegaly is stable. The lungs are clear.",
         "The heart is mildly enlarged, beyond what AP magnification alone would explain.", True),
        ("FINDINGS: Heart size is normal. The lungs are clear.",
         "If there were an effusion, it would blunt the costophrenic angle.", True),
        # a size of the prior exam is the report's too
        ("FINDINGS: There is a right hilar mass measuring approximately 5 cm, slightly larger than on ___, when it "
         "measured 4 cm.", "The mass is about 5 cm now, compared with 3 cm on the prior study.", False),
        ("FINDINGS: There is a right hilar mass measuring approximately 5 cm, slightly larger than on ___, when it "
         "measured 4 cm.", "The mass is about 5 cm now, compared with 4 cm on the prior study.", True),
    ],
)
def test_conditional_inside_a_comparison_and_sizes_of_the_prior(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # an option heading whose line only places the finding: the heading is the subject
        ("FINDINGS: There is platelike atelectasis in the right midlung. No pneumothorax.",
         "6. Platelike atelectasis: described in the right lower lobe - present.", False),
        ("FINDINGS: There is platelike atelectasis in the right midlung. No pneumothorax.",
         "6. Platelike atelectasis: described in the right midlung - present.", True),
        ("FINDINGS: There is platelike atelectasis in the right midlung. No pneumothorax.",
         "Pneumothorax: explicitly absent.", True),
        # a side told as "higher than the other"
        ("FINDINGS: There is elevation of the left hemidiaphragm. No pneumothorax.",
         "The right hemidiaphragm sits noticeably higher than the left.", False),
        ("FINDINGS: There is elevation of the left hemidiaphragm. No pneumothorax.",
         "The left hemidiaphragm sits higher than the right.", True),
        # change told by a comparative: "wider now", "clearer than on the previous film"
        ("FINDINGS: The heart is borderline size. The mediastinum is stable. The lungs are clear.",
         "Compared with the prior, the mediastinum is wider now.", False),
        ("FINDINGS: No focal lung consolidation. No pneumothorax or pleural effusion.",
         "Overall, the lungs look clearer than on the previous film.", False),
        ("FINDINGS: Interval improvement of the right lower lobe consolidation. No pneumothorax.",
         "The right lower lobe looks clearer than on the previous film.", True),
    ],
)
def test_option_headings_higher_sides_and_comparatives(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # ", but nothing active" denies its own thing: the node before it is still claimed
        ("FINDINGS: The lungs are clear bilaterally. No pleural effusion.",
         "There's a tiny calcified node at the right hilum, but nothing active.", False),
        ("FINDINGS: Calcified right hilar lymph node. The lungs are clear.",
         "There's a calcified node at the right hilum, but nothing active.", True),
        # "there are three of them" is a count; "two of them are calcified" counts a part
        ("FINDINGS: Calcified granulomas are noted within the lung bases. No pneumothorax.",
         "There are three of them, which fits old granulomatous infection.", False),
        ("FINDINGS: Three calcified granulomas are noted within the lung bases. No pneumothorax.",
         "There are three of them, which fits old granulomatous infection.", True),
        # the junctions of the spine are places of their own
        ("FINDINGS: The lungs are clear. Deformity at the thoracolumbar junction with an acute kyphosis.",
         "There's a deformity at the lumbosacral junction with an acute kyphosis.", False),
        ("FINDINGS: The lungs are clear. Deformity at the thoracolumbar junction with an acute kyphosis.",
         "There's a deformity at the thoracolumbar junction with an acute kyphosis.", True),
        # "persistent but increased" states a move, which "persistent stable" denies
        ("FINDINGS: No pleural effusion. There is persistent stable appearing right apical scarring.",
         "The right apical scarring is persistent but slightly increased compared with the prior studies.", False),
        ("FINDINGS: No pleural effusion. There is persistent stable appearing right apical scarring.",
         "The right apical scarring is persistent and stable compared with the prior studies.", True),
    ],
)
def test_denials_after_but_counts_of_them_junctions_and_persistent_but(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a verdict after a dash answers the option heading, not the sentence before the dash
        ("FINDINGS: The heart is normal in size. The lungs are clear. There is no pleural effusion.",
         "Cardiomegaly: the heart is normal in size - absent.", True),
        ("FINDINGS: The heart is normal in size. The lungs are clear. There is no pleural effusion.",
         "Cardiomegaly: the cardiomediastinal silhouette is unremarkable \u2014 absent.", True),
        ("FINDINGS: Mild cardiomegaly. The lungs are clear. There is no pleural effusion.",
         "Cardiomegaly: the heart is normal in size - absent.", False),
        # while verdict lines still read as statements
        ("FINDINGS: Mild cardiomegaly. The lungs are clear. There is no pleural effusion.",
         "Cardiomegaly: yes. Pleural effusion: no.", True),
        ("FINDINGS: Mild cardiomegaly. The lungs are clear. There is no pleural effusion.",
         "1. Pleural effusion - present.", False),
    ],
)
def test_verdicts_answer_the_option_not_the_sentence(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a state denied after it ("... reported as negative") is not affirmed
        ("FINDINGS: Negative for cardiac enlargement. Negative for vascular congestion. Granulomas are seen.",
         "Cardiac enlargement and vascular congestion are both explicitly reported as negative.", True),
        ("FINDINGS: Negative for cardiac enlargement. Negative for vascular congestion. Granulomas are seen.",
         "The pulmonary vessels are congested.", False),
    ],
)
def test_states_denied_after_them(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a categorical denial where the report's denial is limited ("no large", "no definite") dismisses what the
        # report leaves open; a plain denial is "unmentioned = absent"
        ("FINDINGS: Mild cardiomegaly. There is no acute pulmonary consolidation, large effusion or pneumothorax.",
         "Any pleural effusion is ruled out, even a trace.", False),
        ("FINDINGS: Mild cardiomegaly. There is no acute pulmonary consolidation, large effusion or pneumothorax.",
         "There is no pleural effusion.", True),
        ("FINDINGS: Mild cardiomegaly. There is no acute pulmonary consolidation, large effusion or pneumothorax.",
         "Pneumothorax is ruled out.", True),
        # (nothing suggesting even a small one restates the report's absence; it does not exclude one)
        ("FINDINGS: Mild cardiomegaly. There is no acute pulmonary consolidation, large effusion or pneumothorax.",
         "With nothing to suggest even a small effusion, the best answer is No.", True),
        ("FINDINGS: No focal alveolar consolidation, no definite pleural effusion seen.",
         "Pleural effusion is definitively ruled out by the report.", False),
        ("FINDINGS: No focal consolidation. No pleural effusion.",
         "Pleural effusion is definitively ruled out.", True),
        # both lower lobes, both bases: one side of them is a wrong side
        ("FINDINGS: Cardiomegaly. Interstitial opacities consistent with edema in the lower lobes.",
         "There are interstitial opacities in the right lower lobe.", False),
        ("FINDINGS: Cardiomegaly. Interstitial opacities consistent with edema in the right lower lobe.",
         "There are interstitial opacities in the right lower lobe.", True),
        # sutures are hardware
        ("FINDINGS: The lungs are clear. Upper abdominal midline surgical sutures are stable.",
         "No surgical sutures are visible in the upper abdomen.", False),
        # "more conspicuous now than on the prior" is a change, against "less distinct than on the prior"
        ("FINDINGS: Right middle lobe collapse appears less distinct than on the prior study. No pleural effusion.",
         "There's collapse of the right middle lobe, and it's more conspicuous now than on the prior study.", False),
        ("FINDINGS: Right middle lobe collapse appears less distinct than on the prior study. No pleural effusion.",
         "The right middle lobe collapse is less conspicuous than on the prior study.", True),
        # a global "no acute process" leaves the report's limited denial limited
        ("FINDINGS: Mild cardiomegaly. There is no acute pulmonary consolidation, large effusion or pneumothorax.\n"
         "IMPRESSION: No acute process.", "Any pleural effusion is ruled out, even a trace.", False),
    ],
)
def test_categorical_denials_both_lobes_sutures(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "X is not a sign of Y" denies Y's link to X, not X
        ("FINDINGS: There is no focal air space opacity to suggest a pneumonia. There are calcified granulomas noted.",
         "Calcified granulomas reflect prior granulomatous infection and are not a sign of active pneumonia.", True),
        ("FINDINGS: There is no focal air space opacity to suggest a pneumonia. There are calcified granulomas noted.",
         "The granulomas are not a sign of active pneumonia.", True),
        ("FINDINGS: There is no focal air space opacity. No granulomas.",
         "Calcified granulomas are present, which are not a sign of active pneumonia.", False),
        # "prominent" for the report's "prominence" adds no grade; "markedly prominent" does
        ("FINDINGS: There is prominence of the right heart border, consistent with right atrial enlargement.",
         "The right heart border is prominent, consistent with right atrial enlargement.", True),
        ("FINDINGS: There is prominence of the interstitial markings with fluid in the fissures consistent with "
         "interstitial edema.", "The interstitial markings are prominent, which indicates interstitial edema.", True),
        ("FINDINGS: There is prominence of the interstitial markings. Heart size normal.",
         "The interstitial markings are markedly prominent.", False),
    ],
)
def test_not_a_sign_of_and_prominence(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # what kind a present thing is not ("not under tension") denies the kind, not the thing
        ("FINDINGS: Small right apical pneumothorax. No mediastinal shift.",
         "Without mediastinal shift, the pneumothorax isn't under tension.", True),
        ("FINDINGS: Small right apical pneumothorax. No mediastinal shift.", "There is no pneumothorax.", False),
        # a "with" phrase coordinated after a denial is affirmed
        ("FINDINGS: Small right apical pneumothorax. No mediastinal shift.",
         "Without mediastinal shift, and with only a small pneumothorax, there's no evidence of tension physiology.",
         True),
        ("FINDINGS: The lungs are free of focal airspace disease. No pleural effusion.",
         "The lungs are free of focal airspace disease, with only mild bibasilar atelectasis.", False),
        # after a tube's removal, the tube is gone
        ("FINDINGS: Right chest tube has been removed. Tiny residual right apical pneumothorax.",
         "A tiny pneumothorax remains after chest tube removal.", True),
        ("FINDINGS: Right chest tube in place. Tiny residual right apical pneumothorax.",
         "A tiny pneumothorax remains after chest tube removal.", False),
        ("FINDINGS: Right chest tube has been removed. Tiny residual right apical pneumothorax.",
         "Chest tube removal is a common time for a pneumothorax to recur, so the apex deserves a careful look.", True),
        # "mass effect" names no mass; "right next to" names no side
        ("FINDINGS: Large left pleural effusion with rightward mediastinal shift.",
         "The large effusion exerts mass effect on the mediastinum.", True),
        ("FINDINGS: Small left pleural effusion with adjacent left basilar atelectasis.",
         "Since the atelectasis sits right next to the fluid, it is most likely passive.", True),
        # "Item 1" cites the report's numbered item; "two-year" is two years
        ("IMPRESSION: 1. Hyperinflation consistent with COPD, unchanged. 2. Mild right basilar scarring.",
         "Item 1: hyperinflation consistent with COPD, unchanged.", True),
        ("FINDINGS: A 6 mm nodule in the left lower lobe is unchanged, compatible with a benign process given "
         "two-year stability.", "The 6 mm nodule has not changed, giving two years of stability.", True),
        ("FINDINGS: A 6 mm nodule in the left lower lobe is unchanged, compatible with a benign process given "
         "two-year stability.", "The 6 mm nodule has not changed, giving three years of stability.", False),
    ],
)
def test_kinds_denied_with_phrases_removals_and_item_numbers(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # general knowledge under an indefinite subject judged by a standard, or a condition ("as long as")
        ("IMPRESSION: Right internal jugular central venous catheter terminates in the mid SVC.",
         "A tip in the mid-to-lower SVC is an acceptable position for a central venous catheter.", True),
        ("FINDINGS: Endotracheal tube tip 4 cm above the carina.",
         "An ETT tip roughly 3-5 cm above the carina is in the appropriate range, so this is well positioned.", True),
        ("FINDINGS: The orogastric tube is coiled in the stomach.",
         "A coiled OG tube is acceptable as long as the coil and tip are within the stomach.", True),
        ("FINDINGS: Interval increase in the right upper lobe mass, now 4.5 cm.",
         "Enlarged pulmonary arteries can be a complication of long-standing fibrosis.", True),
        ("FINDINGS: Right PICC tip at the cavoatrial junction. No pneumothorax.",
         "The indication is PICC placement, so pneumothorax is the complication to check.", True),
        # "either A or B" keeps both open
        ("FINDINGS: Patchy left basilar opacity, which may represent atelectasis or early pneumonia.",
         "There's a patchy left basal opacity, described as either atelectasis or early pneumonia.", True),
        ("FINDINGS: Patchy left basilar opacity, which may represent atelectasis or early pneumonia.",
         "There's a patchy left basal opacity, which is early pneumonia.", False),
        # "slightly" grades the shift, not the effusion
        ("FINDINGS: Large right pleural effusion with mild leftward mediastinal shift.",
         "The mediastinum is shifted slightly to the left by the large right effusion.", True),
        ("FINDINGS: Large right pleural effusion with mild leftward mediastinal shift.",
         "The mediastinum is shifted slightly to the left by the small right effusion.", False),
        # "probably normal" leans to normal, as "likely normal" does
        ("FINDINGS: Low lung volumes. Heart size is likely normal given the AP technique.",
         "The heart looks probably normal in size, allowing for the AP projection.", True),
    ],
)
def test_general_standards_alternatives_and_leaning_normals(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a leading reason is affirmed on its own: the clause's own denial is of the option
        ("FINDINGS: A prosthetic aortic valve is noted. Severe cardiomegaly.",
         "Since the valve is in the aortic position, option C is not present.", True),
        ("FINDINGS: Persistent right lower lobe collapse. No pneumothorax.",
         "Because the collapse is still present, option A is incorrect.", True),
        # a change word of another thing in the sentence, or a denied one, is not the claim's
        ("FINDINGS: Left-sided single-lead ICD. Sternotomy wires, unchanged. Moderate pulmonary edema, new from prior.",
         "An ICD in a patient with new edema is present.", True),
        ("FINDINGS: Left-sided single-lead ICD. Sternotomy wires, unchanged. Moderate pulmonary edema, new from prior.",
         "The ICD is new since the prior study.", False),
        ("FINDINGS: Compared to the prior study, the right pleural effusion has decreased from large to small.",
         "A smaller effusion without any new pleural line means the thoracentesis went without complication.", True),
        # one side's angle denies that side's effusion
        ("FINDINGS: Small bilateral pleural effusions. No pneumothorax.",
         "The right costophrenic angle is blunted by a small effusion, while the left angle is sharp.", False),
        ("FINDINGS: Small right pleural effusion. No pneumothorax.",
         "The right costophrenic angle is blunted by a small effusion, while the left angle is sharp.", True),
        # "no longer present" is no history; another word for the same kind of device is that device
        ("FINDINGS: A Swan-Ganz catheter terminates in the proximal right pulmonary artery. Left chest tube in place.",
         "The Swan-Ganz catheter is no longer present.", False),
        ("FINDINGS: The orogastric tube tip is in the stomach. No pneumothorax.", "No enteric tube is seen.", False),
        ("FINDINGS: The orogastric tube tip is in the stomach. No pneumothorax.",
         "An enteric tube passes below the diaphragm into the stomach.", True),
        ("FINDINGS: A left subclavian port-a-catheter terminates at the cavoatrial junction.",
         "A left subclavian port-a-catheter ends at the cavoatrial junction.", True),
        # a long sentence that denies something at its end affirms what it says before
        ("FINDINGS: There is moderate cardiomegaly and a tortuous calcified aorta unchanged from prior, and there is "
         "no pneumothorax or overt pulmonary edema.", "The aorta is tortuous with calcification along its wall.", True),
        # there on the prior study, removed since
        ("FINDINGS: Left PICC terminates in the mid SVC. Interval removal of the right internal jugular catheter.",
         "A right internal jugular catheter was present on the prior study.", True),
        # what a denial is about: a complication of the leads, a picture, the progression
        ("FINDINGS: Left chest wall dual-lead pacemaker. The lungs are clear. No pleural effusion.",
         "There's no sign of heart failure or a lead-related complication.", True),
        ("FINDINGS: Small left pleural effusion, new from prior. Heart size upper limits of normal.",
         "The effusion isn't part of an obvious cardiomegaly and failure picture.", True),
    ],
)
def test_reasons_own_changes_sided_angles_and_device_words(validator, text, step, good):
    assert_judged(validator, text, step, good)


def test_against_progression_denies_the_change(validator):
    text = "FINDINGS: Stable mild widening of the superior mediastinum. The lungs are clear."
    step = "In a patient with lymphoma, stability argues against progression of mediastinal disease."
    assert_judged(validator, text, step, True, indication="Lymphoma, restaging.")


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "I'd call" is the step's own reading, not a conditional; "what we'd call" defines a word
        ("FINDINGS: Left retrocardiac atelectasis. Possible small left pleural effusion.",
         "The left costophrenic angle is sharp enough that I'd call no effusion on that side.", False),
        ("FINDINGS: The lungs are free of focal airspace disease. No pleural effusion.",
         "Focal airspace disease is essentially what we'd call consolidation, so no consolidation is reported.", True),
        # no pleural line is no pneumothorax (on the side its sentence is about); air in the mediastinum is
        # pneumomediastinum
        ("FINDINGS: Tiny residual right apical pneumothorax, decreased. The left lung is clear.",
         "At the right apex the lung reaches the chest wall; I don't see any residual pleural line.", False),
        ("FINDINGS: Small right apical pneumothorax. The left lung is clear.",
         "The left lung is clear and fully expanded, with no pleural line.", True),
        ("FINDINGS: Subcutaneous emphysema has decreased. Pneumomediastinum persists.",
         "The subcutaneous emphysema is less extensive, and there's no longer any air in the mediastinum.", False),
    ],
)
def test_own_readings_pleural_lines_and_mediastinal_air(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "persists, though smaller than before" is there and smaller, not unchanged
        ("FINDINGS: Tiny residual right apical pneumothorax, decreased from prior. Right chest tube in place.",
         "A tiny right apical pneumothorax persists, though smaller than before.", True),
        ("FINDINGS: Tiny residual right apical pneumothorax, decreased from prior. Right chest tube in place.",
         "A tiny right apical pneumothorax persists, unchanged from before.", False),
        # a look tied to the finding the report names is that finding's look
        ("FINDINGS: Large hiatal hernia. Bibasilar linear atelectasis. No pleural effusion.",
         "There's a large rounded retrocardiac opacity, consistent with a large hiatal hernia.", True),
        ("FINDINGS: Bilateral hilar lymphadenopathy, unchanged. No pleural effusion.",
         "Both hila are enlarged and lobulated, consistent with bilateral hilar lymphadenopathy.", True),
        ("FINDINGS: Bibasilar linear atelectasis. No pleural effusion.",
         "There's a large rounded retrocardiac opacity, consistent with a large hiatal hernia.", False),
        # (the look's grade is the finding's)
        ("FINDINGS: Small hiatal hernia. No pleural effusion.",
         "There's a large retrocardiac soft tissue density, consistent with a hiatal hernia.", False),
        # what a denial's sentence goes on to say "with" is there; where a thing was is the past
        ("FINDINGS: Status post left mastectomy with left axillary surgical clips. No pleural effusion.",
         "The left breast is absent, with surgical clips in the left axilla.", True),
        ("IMPRESSION: Interval resolution of right middle lobe pneumonia. Minimal residual scarring in the right "
         "middle lobe.", "There's a thin linear density in the right middle lobe where the pneumonia was.", True),
        # the heart has no side ("the AICD lead in the right ventricle" places the lead)
        ("IMPRESSION: Severe cardiomegaly with new mild interstitial edema and small left pleural effusion. AICD "
         "lead in the right ventricle.", "The heart is severely enlarged, with the AICD lead in the right ventricle.",
         True),
    ],
)
def test_smaller_persistence_and_looks_of_named_findings(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # reasoning that a reading "fits with", "supports" or is "worrisome for" a hedged finding keeps it hedged
        ("FINDINGS: Worsening diffuse bilateral airspace opacities, concerning for ARDS. The heart size is normal.",
         "Worsening bilateral opacities in a septic patient fit with ARDS.", True),
        ("FINDINGS: Worsening diffuse bilateral airspace opacities, concerning for ARDS. The heart size is normal.",
         "A normal heart size argues against a cardiogenic cause, which supports ARDS rather than hydrostatic edema.",
         True),
        ("FINDINGS: New patchy opacity in the left lower lobe, concerning for pneumonia.",
         "A new focal opacity in a febrile patient is worrisome for pneumonia.", True),
        ("FINDINGS: Worsening diffuse bilateral airspace opacities, concerning for ARDS. The heart size is normal.",
         "The opacities are ARDS.", False),
    ],
)
def test_reasoning_words_keep_hedges(validator, text, step, good):
    assert_judged(validator, text, step, good)


def test_support_devices_are_not_a_hedge(validator):
    lang = validator.rules.language
    assert hedge_strength("Support devices are in place.", lang) == "certain"
    assert hedge_strength("which supports ARDS", lang) == "probable"


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a quoted word judged as an answer is not said of the patient
        ("IMPRESSION: Tiny residual right apical pneumothorax, decreased. Right chest tube removed.",
         "Since a residual pneumothorax is still present, 'resolved' isn't correct even though it is smaller.", True),
        # "acting as a mass" is mass effect
        ("FINDINGS: Large right pleural effusion, increased, with leftward mediastinal shift.",
         "An enlarging effusion that pushes the mediastinum to the opposite side is acting as a mass.", True),
        # (a mass is not a cancer: "lung cancer" for a mass the report only worries about is overstated)
        ("IMPRESSION: Right upper lobe mass, concerning for malignancy. Right hilar adenopathy.",
         "The report establishes the mass as a lung cancer with nodal spread.", False),
    ],
)
def test_quoted_answers_and_mass_effect(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a cardiothoracic ratio held to 0.5, the number of points an impression lists: no number of the patient's
        ("FINDINGS: Heart size is normal. The lungs are clear.",
         "The heart borders are normal in contour and the cardiothoracic ratio is under 0.5.", True),
        ("FINDINGS: The heart is mildly enlarged. The lungs are clear.",
         "The cardiothoracic ratio is slightly above 50%, so the heart is mildly enlarged.", True),
        ("IMPRESSION: 1. No pneumothorax. 2. Left rib fractures. 3. Small left effusion. 4. Normal heart size.",
         "This report has only an impression, which lists four points.", True),
        # a clause opening on a denial ends it at its verb; "acute, not healed" denies the age, not the fractures
        ("FINDINGS: Acute appearing nondisplaced fractures of the left lateral 6th and 7th ribs. No pneumothorax.",
         "Absent callus and sharp margins indicate these are acute, not healed fractures.", True),
        ("FINDINGS: No rib fracture. No pneumothorax.",
         "Absent callus and sharp margins indicate these are acute, not healed fractures.", False),
        # what a thing is not by itself; what kind of device something is not
        ("FINDINGS: Calcified bilateral pleural plaques. Possible early asbestosis at the bases.",
         "Pleural plaques are markers of exposure and are not by themselves asbestosis.", True),
        ("FINDINGS: Two right chest tubes are in place. An epidural catheter projects over the thoracic spine.",
         "I also see an epidural catheter projecting over the thoracic spine, which isn't a chest tube.", True),
        ("FINDINGS: The lungs are clear. No pleural effusion.", "It is not an effusion.", True),
        ("FINDINGS: Small left pleural effusion.", "It is not an effusion.", False),
    ],
)
def test_ratios_counts_of_points_denials_ended_by_verbs_and_kinds(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # how common a thing is, what stage or pattern it is: general knowledge
        ("FINDINGS: Bilateral peripheral opacities consistent with COVID-19 pneumonia. No pleural effusion.",
         "Effusions are relatively uncommon in COVID-19 pneumonia, so their absence fits the diagnosis.", True),
        ("FINDINGS: Mild pulmonary vascular congestion. No edema.",
         "Vascular congestion is an early stage of fluid overload, before interstitial edema develops.", True),
        ("FINDINGS: Sclerotic lesions in the thoracic spine, consistent with metastases.",
         "Sclerotic bone metastases are a well-recognized pattern in breast cancer.", True),
        ("FINDINGS: Mild pulmonary vascular congestion. No edema.", "There is interstitial edema.", False),
    ],
)
def test_how_common_and_what_stage_is_general_knowledge(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "the report refers to" restates the report; "I'd estimate" states a number
        ("FINDINGS: The 6 mm nodule in the left upper lobe is unchanged.",
         "The report refers to the 9 mm nodule in the left upper lobe.", False),
        ("FINDINGS: The 6 mm nodule in the left upper lobe is unchanged.",
         "The report refers to the 6 mm nodule in the left upper lobe.", True),
        ("FINDINGS: Right PICC terminates in the right atrium and could be withdrawn about 3 cm.",
         "I'd estimate it is about 6 cm too deep.", False),
        # a straight spine against a curve of it
        ("FINDINGS: Mild levoscoliosis of the lumbar spine. Heart size is normal.",
         "The lumbar spine is straight, and the heart is normal in size.", False),
        ("FINDINGS: The spine is unremarkable. Heart size is normal.", "The spine is straight.", True),
        # a fracture line is no line or tube; "ribs" and "rib" are one word; an arc after the ribs
        ("FINDINGS: Healing fractures of the right lateral 4th and 5th ribs.",
         "On the right there are thin lucent fracture lines through the lateral aspects of the 5th and 6th ribs.",
         False),
        ("FINDINGS: Healed fractures of the right 7th and 8th ribs are seen posteriorly.",
         "There are healed fractures of the right 7th and 8th ribs anteriorly.", False),
        ("FINDINGS: Healed fractures of the right 7th and 8th ribs are seen posteriorly.",
         "The right 7th and 8th ribs show healed fractures posteriorly.", True),
        ("FINDINGS: Acute fracture of the right lateral 9th rib.",
         "Along the lateral right 9th rib there is a sharp lucent line, consistent with an acute fracture.", True),
    ],
)
def test_reports_that_refer_estimates_straight_spines_and_rib_arcs(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # which way a line moved since the prior exam; a recommended move is none made
        ("FINDINGS: The nasogastric tube has been advanced and now ends in the stomach, compared to the prior study.",
         "The nasogastric tube has been pulled back since the prior film.", False),
        ("FINDINGS: The nasogastric tube has been advanced and now ends in the stomach, compared to the prior study.",
         "The nasogastric tube was advanced since the prior film and its tip is in the stomach.", True),
        ("FINDINGS: Compared to the prior study, the endotracheal tube has moved and its tip is now 1 cm above the "
         "carina; it could be withdrawn 2 cm.",
         "The endotracheal tube has been advanced compared with the prior film.", True),
        # a test the report only offers, stated as required
        ("FINDINGS: 1 cm nodule in the right upper lobe. CT may be helpful if clinically indicated.",
         "The radiologist states that a CT is required to characterise the nodule.", False),
        ("FINDINGS: 1 cm nodule in the right upper lobe. CT may be helpful if clinically indicated.",
         "The radiologist suggests CT if clinically indicated.", True),
        ("FINDINGS: 1 cm nodule in the right upper lobe. CT may be helpful if clinically indicated.",
         "A CT is not required urgently.", True),
        # a drain the step says was removed that the report keeps in place
        ("FINDINGS: Right chest tube and two mediastinal drains in place. No pneumothorax.",
         "The mediastinal drains have been removed; only the right chest tube remains.", False),
        ("FINDINGS: The mediastinal drains have been removed. Right chest tube in place. No pneumothorax.",
         "The mediastinal drains have been removed; only the right chest tube remains.", True),
    ],
)
def test_moves_of_lines_required_tests_and_removed_drains(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a hedge the step says the report does not consider
        ("FINDINGS: Small left pleural effusion, possibly hemothorax. Left 6th rib fracture.",
         "The left effusion is small, and the report does not consider it a hemothorax.", False),
        ("FINDINGS: Small left pleural effusion. Left 6th rib fracture. No hemothorax.",
         "The left effusion is small, and the report does not consider it a hemothorax.", True),
        # a narrower mediastinum than before against a stable one
        ("FINDINGS: The mediastinum is stable. The lungs are clear.",
         "The mediastinum is narrower than on the previous study.", False),
        # the side of what a "which is" phrase names
        ("FINDINGS: Small left apical pneumothorax. No pleural effusion.",
         "At the right apex there is a thin pleural line, which is a small pneumothorax.", False),
        ("FINDINGS: Small left apical pneumothorax. No pleural effusion.",
         "At the left apex there is a thin pleural line, which is a small pneumothorax.", True),
        # a blunted angle, hedged, where the report denies any effusion
        ("FINDINGS: Lungs are clear. No pleural effusion or pneumothorax.",
         "The left costophrenic angle is minimally blunted, possibly a trace of fluid.", False),
        # arteries by any form of the word
        ("FINDINGS: Enlarged central pulmonary arteries suggesting pulmonary arterial hypertension.",
         "The central pulmonary arteries are normal, so there is no pulmonary artery hypertension.", False),
    ],
)
def test_considered_hedges_narrower_things_named_phrases_and_blunted_angles(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good,indication",
    [
        # the history read back with its sides swapped
        ("FINDINGS: No rib fracture. No pneumothorax.", "The patient has a right chest wall contusion.", False,
         "Left chest wall contusion after a fall."),
        ("FINDINGS: No rib fracture. No pneumothorax.", "The patient has a left chest wall contusion.", True,
         "Left chest wall contusion after a fall."),
        ("FINDINGS: No rib fracture.", "The patient reports left shoulder pain and right rib pain.", False,
         "Right shoulder pain. Left rib pain."),
    ],
)
def test_history_read_back_with_the_other_side(validator, text, step, good, indication):
    assert judged(validator, text, step, indication=indication).label is good


@pytest.mark.parametrize(
    "text,step,good",
    [
        # an option heading before a dash after markup; "left over" is no side; "near-complete resolution" is no
        # denial; a copy of one report sentence is no edited copy of another
        ("FINDINGS: No pleural effusion. Heart size is normal.",
         "**C) Pleural effusion** \u2013 the report states there is no pleural effusion. Absent.", True),
        ("FINDINGS: Near-complete resolution of the right pleural effusion with a small residual. Small right "
         "pleural effusion.",
         "The report describes near-complete resolution of the right effusion, with a little fluid left over.", True),
        ("FINDINGS: No displaced fractures. No displaced rib fractures. Heart size is normal.",
         "No displaced rib fractures, and the heart size is normal.", True),
    ],
)
def test_markup_headings_verbs_of_leaving_and_faithful_copies(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # shunt tubing is a line or tube; a thing the report calls unremarkable, called increased
        ("FINDINGS: Shunt tubing courses over the right chest. Lungs are clear.",
         "The report doesn't describe any lines or tubes, so there is no shunt catheter.", False),
        ("FINDINGS: The pulmonary vascularity is unremarkable. Lungs are clear.",
         "The pulmonary vascularity is described as mildly increased.", False),
        ("FINDINGS: The pulmonary vascularity is increased. Lungs are clear.",
         "The pulmonary vascularity is described as mildly increased.", True),
        # a line seen on the prior film that is gone now, where the report removed it
        ("COMPARISON: Prior film. FINDINGS: There has been removal of the left-sided PICC. Lungs are clear.",
         "The left-sided PICC seen on the previous film is no longer present; it has been removed.", True),
        ("COMPARISON: Prior film. FINDINGS: The left-sided PICC is unchanged. Lungs are clear.",
         "The left-sided PICC seen on the previous film is no longer present.", False),
        # the normal side of a step naming the other side's finding; a change said of the other thing by contrast
        ("FINDINGS: Interval decrease in the size of the right pleural effusion. Left lung clear.",
         "There is less right pleural fluid compared with before, with the left lung clear.", True),
        ("FINDINGS: Decreased right pleural effusion. Persistent right basilar airspace opacity.",
         "There's less pleural fluid on the right, though the airspace opacity persists in the right base.", True),
    ],
)
def test_shunts_called_increased_lines_gone_and_contrasted_changes(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # another segment of the same lobe; "less X on the right" is a change, not the lesser side
        ("FINDINGS: Opacity in the lateral basal segment of the right lower lobe has increased.",
         "The density in the superior segment of the right lower lobe has grown since the prior study.", False),
        ("FINDINGS: Opacity in the lateral basal segment of the right lower lobe has increased.",
         "The opacity in the lateral basal segment of the right lower lobe has grown since the prior study.", True),
        ("FINDINGS: Decreased right pleural effusion. Persistent right basilar airspace opacity.",
         "There is less pleural fluid on the right.", True),
        ("FINDINGS: Bilateral pleural effusions, larger on the left.",
         "There are bilateral effusions, smaller on the left.", False),
    ],
)
def test_segments_of_a_lobe_and_less_of_a_thing(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a device's place is its tip, not a lung region ("right upper extremity", "the lower SVC")
        ("FINDINGS: A left upper extremity PICC terminates in the low superior vena cava. The lungs are clear.",
         "A left arm PICC ends in the lower SVC.", True),
        # a concession with a subject of its own ends the denial before it
        ("FINDINGS: Marked thoracic scoliosis limits assessment of the lung bases. No focal consolidation. "
         "No pleural effusion.",
         "There's no focal consolidation and no pleural effusion, although the scoliosis limits assessment of the "
         "bases.", True),
        # one side called normal beside the other side's abnormality
        ("FINDINGS: Blunting of the left costophrenic angle. Heart size is normal.", "The right angle is sharp.", True),
        ("FINDINGS: Blunting of the left costophrenic angle. Heart size is normal.", "The left angle is sharp.", False),
        # a normal statement before a denial in the same clause; a rib the opacity only projects over
        ("FINDINGS: The heart is normal in size. The right hemidiaphragm is elevated. No pleural effusion.",
         "The heart is normal in size, with both hemidiaphragms at their usual level and no pleural effusion.", False),
        ("FINDINGS: A 6 mm nodular opacity overlies the left fifth anterior rib. The bones are intact.",
         "The ribs and the other bones are intact, and there is no effusion.", True),
    ],
)
def test_device_places_concessions_sided_normals_and_landmarks(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good,comparison",
    [
        # another segment named; any tube denied where the report has one; a finding flagged in a relative clause
        ("FINDINGS: Round density in the anterior segment of the left upper lobe.",
         "There is a round density in the posterior segment of the left upper lobe.", False, None),
        ("FINDINGS: The lungs are clear. A gastrostomy tube is noted.",
         "I don't see any tube or device over the upper abdomen.", False, None),
        ("FINDINGS: No nodules or masses. Lungs are clear.",
         "There's a small nodule in the left upper lobe that I'd flag.", False, None),
        # no prior exam said where the comparison field names one in words
        ("FINDINGS: The lungs are clear.", "No prior study is available for comparison.", False,
         "PA and lateral chest radiographs of last year."),
        ("FINDINGS: The lungs are clear.", "No prior study is available for comparison.", True, "None."),
        # a greater side the report does not give; the object of "cannot exclude" is what is open
        ("FINDINGS: Vascular congestion in bilateral hilar areas. No effusion.",
         "The hilar vessels are congested, more on the right than the left.", False, None),
        ("FINDINGS: The aorta is tortuous, and cannot exclude ascending aortic aneurysm.",
         "The aorta is tortuous.", True, None),
        ("FINDINGS: The aorta is tortuous, and cannot exclude ascending aortic aneurysm.",
         "There is an ascending aortic aneurysm.", False, None),
        # both bases by "bibasal"; two places of one kind after a slash; "these" for what the sentence before names
        ("FINDINGS: Left basal patchy opacity and bibasal atelectasis.",
         "There is a patchy opacity at the left base, with atelectasis at both bases.", True, None),
        ("FINDINGS: Bilateral calcified hilar/perihilar lymph nodes.",
         "There are calcified hilar lymph nodes on both sides.", True, None),
        ("FINDINGS: Small nodular opacities in the left upper lung zone. These are slightly more prominent than on "
         "the previous study.",
         "Small nodular opacities in the left upper zone are slightly more conspicuous than on the prior study.",
         True, "Chest radiograph of last month."),
    ],
)
def test_segments_any_tube_prior_exams_greater_sides_and_open_objects(validator, text, step, good, comparison):
    assert judged(validator, text, step, comparison=comparison).label is good


@pytest.mark.parametrize(
    "text,step,good",
    [
        # what points away from a diagnosis denies it
        ("FINDINGS: Small bilateral pleural effusions. Heart size is normal. No pulmonary edema.",
         "The normal heart size points away from heart failure as a source of fluid.", True),
        # ("spondylosis doesn't explain anything acute" says it is there: not explaining is no denial)
        ("FINDINGS: Mild degenerative changes of the thoracic spine. Lungs are clear.",
         "Spondylosis is a chronic finding and doesn't explain anything acute, but it is present.", True),
        # a central line is one kind of line
        ("FINDINGS: Gastrostomy tube in place. Lungs clear.", "There is no central line.", True),
        ("FINDINGS: Right internal jugular central venous catheter with tip in the SVC. Lungs clear.",
         "There is no central line.", False),
    ],
)
def test_diagnoses_pointed_away_from_and_kinds_of_lines(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "most XXXX" is a de-identified "most likely": the reading after it stays probable
        ("FINDINGS: There is a calcified density in the right upper lung, most XXXX a calcified granuloma.",
         "The calcified density in the right upper lung is definitely a calcified granuloma.", False),
        ("FINDINGS: There is a calcified density in the right upper lung, most XXXX a calcified granuloma.",
         "The calcified density in the right upper lung is probably a calcified granuloma.", True),
        # "higher than usual" is no normal statement; an "I'd flag" after a finding leaves it stated
        ("FINDINGS: Mild elevation of the right hemidiaphragm. Lungs are clear.",
         "The right hemidiaphragm sits mildly higher than usual.", True),
        ("FINDINGS: A large hiatal hernia with an air-fluid level. The heart is mildly enlarged.",
         "There's a large hiatal hernia, which I shouldn't mistake for cardiac enlargement.", True),
    ],
)
def test_hidden_hedges_usual_levels_and_relative_clauses(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "despite" opens a clause of its own; "negates" denies its list; a state after a denied list is not denied;
        # the way a line descends is not where it ends
        ("FINDINGS: Mild cardiomegaly. Normal pulmonary vascularity. Lungs are clear.",
         "There is no evidence of pulmonary edema despite the mild cardiomegaly.", True),
        ("FINDINGS: Heart size is normal. Lungs are clear.", "There is no edema despite the mild cardiomegaly.", False),
        ("FINDINGS: Heart size normal. No pneumonia, effusions, pneumothorax, nodules or masses.",
         "The report explicitly negates pneumonia, effusions, pneumothorax, nodules and masses.", True),
        ("FINDINGS: Both lungs are free of acute infiltrates and expanded. Heart normal.", "The lungs are expanded.",
         True),
        ("FINDINGS: Both lungs are free of acute infiltrates and expanded. Heart normal.",
         "There is an acute infiltrate.", False),
        ("FINDINGS: Right-sided PICC with tip at the cavoatrial junction. Lungs clear.",
         "This right-sided PICC crosses into the chest and descends along the superior vena cava.", True),
    ],
)
def test_despite_negates_states_after_denials_and_descending_lines(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a statement before its list is no heading; "so there is" names what the clause before describes
        ("FINDINGS: There is a left-sided single-lead ICD with the lead tip in the right ventricular apex.",
         "There are two leads: one in the right atrial appendage and one at the right ventricular apex.", False),
        ("FINDINGS: There is a small left apical pneumothorax, new since the prior study.",
         "At the right apex there's a thin pleural line, so there's a small pneumothorax.", False),
        ("FINDINGS: There is a small left apical pneumothorax, new since the prior study.",
         "At the left apex there's a thin pleural line, so there's a small pneumothorax.", True),
    ],
)
def test_statements_before_lists_and_conclusions_with_so(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # what is normally so is general knowledge; what is "normally placed" is this patient's
        ("FINDINGS: Elevation of the left hemidiaphragm. Lungs clear.",
         "Normally the right hemidiaphragm sits a bit higher than the left because of the liver.", True),
        ("FINDINGS: The lungs are clear. No pleural effusion.",
         "Normally aerated lungs with a small left pleural effusion.", False),
    ],
)
def test_what_is_normally_so(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good,comparison",
    [
        # a stable exam vouches for "stable" of anything on it
        ("FINDINGS: The lungs are clear. Heart size is normal.\nIMPRESSION: Stable chest x-XXXX, without acute "
         "cardiopulmonary findings.", "The impression calls it a stable chest X-ray compared with the prior study.",
         True, "Chest radiograph of last year."),
        # cardiomegaly unmentioned beside a stable cardiomediastinal silhouette: nothing abnormal said of the heart
        ("FINDINGS: The cardiomediastinal silhouette is stable in appearance. No pleural effusion.",
         "The cardiomediastinal silhouette is described as stable, and cardiomegaly isn't mentioned.", True, None),
        ("FINDINGS: Mild cardiomegaly. No pleural effusion.", "Cardiomegaly isn't mentioned.", False, None),
    ],
)
def test_stable_exams_and_unmentioned_heart_size(validator, text, step, good, comparison):
    assert judged(validator, text, step, comparison=comparison).label is good


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a finding put in another vessel, however much else the clause says
        ("FINDINGS: Interval CABG. Atherosclerotic calcifications of the thoracic aorta. IMPRESSION: Peripheral "
         "vascular disease.",
         "There are atherosclerotic calcifications in the coronary arteries, which the impression sums up as "
         "peripheral vascular disease.", False),
        ("FINDINGS: Interval CABG. Atherosclerotic calcifications of the thoracic aorta. IMPRESSION: Peripheral "
         "vascular disease.",
         "There are atherosclerotic calcifications in the thoracic aorta, which the impression sums up as "
         "peripheral vascular disease.", True),
    ],
)
def test_findings_put_in_another_vessel(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a plan's numbered steps are no sizes or counts
        (REPORTS["normal"], "Step 1: Heart. Step 2: Lungs. Step 3: Pleura. Step 4: Bones.", True),
        (REPORTS["normal"], "There is a 3 cm nodule. Step 2 is the pleura.", False),
        # "not surprising" says nothing against the finding
        ("FINDINGS: Mildly enlarged heart. Lungs are clear.",
         "Mild cardiomegaly in an older patient is not surprising.", True),
        ("FINDINGS: Heart size is normal. Lungs are clear.", "An enlarged heart is not surprising here.", False),
        # an aside between subject and verb
        ("FINDINGS: The mediastinum is stable. The lungs are clear.",
         "The mediastinum, on the other hand, has changed since the last film.", False),
        ("FINDINGS: The mediastinum is stable. The lungs are clear.",
         "The mediastinum, by contrast, is unchanged from the last film.", True),
        # arthritic change of a thing called normal
        ("FINDINGS: The lungs are clear. Arthritic changes of the spine are present.", "The spine is normal.", False),
        # a denial inside a leading reason does not reach the clause after it
        ("FINDINGS: Apical lucencies, which could suggest emphysematous bullae.\nIMPRESSION: No active disease.",
         "Since the impression says no active disease, emphysema has been ruled out.", False),
        ("FINDINGS: Mild cardiomegaly. No pleural effusion.",
         "Since cardiomegaly is named in the first finding, I'll count it as present.", True),
        # the report questions a finding: a hedge
        ("FINDINGS: Volume loss of the right hemithorax.\nIMPRESSION: Question prior right upper lobe resection.",
         "The impression questions a prior right upper lobe resection.", True),
        # general knowledge of what a sign can come from, and clinical correlation
        ("FINDINGS: Mild blunting of the left costophrenic angle without definite effusion.",
         "Blunting can be caused by a small effusion, but it can also come from pleural scarring.", True),
        ("FINDINGS: No rib fracture. The lungs are clear.\nIMPRESSION: Correlate clinically with history of trauma.",
         "The radiologist suggests clinical correlation with the history of trauma.", True),
        # sides of places outside the lungs
        ("FINDINGS: Surgical clips in the left neck and right axilla. The lungs are clear.",
         "There are surgical clips in the right neck and left axilla.", False),
        ("FINDINGS: Surgical clips in the left neck and right axilla. The lungs are clear.",
         "There are surgical clips in the left neck.", True),
        ("FINDINGS: Large right pleural effusion with opacification of the right lower hemithorax and leftward "
         "mediastinal shift.", "The effusion fills the lower right chest and pushes the mediastinum to the left.",
         True),
        # many of a thing worded in the singular
        ("FINDINGS: Scattered calcified granuloma. The lungs are otherwise clear.",
         "There is a solitary calcified granuloma.", False),
    ],
)
def test_shapes_of_stop_39(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # a new subject of the speaker's own after a denied list
        ("FINDINGS: No focal consolidation. No pleural effusion. Minimal degenerative changes of the thoracic spine.",
         "No consolidation or effusion, and I see minimal degenerative change in the thoracic spine.", True),
        ("FINDINGS: No focal consolidation. No pleural effusion. No degenerative change.",
         "No consolidation or effusion, and I see minimal degenerative change in the thoracic spine.", False),
        # "points to" weighs a reading, it does not state it
        ("FINDINGS: Obscuration of the left hemidiaphragm, suggesting left retrocardiac airspace disease.",
         "The obscured left hemidiaphragm points to airspace disease behind the heart.", True),
        ("FINDINGS: Obscuration of the left hemidiaphragm, suggesting left retrocardiac airspace disease.",
         "There is definite airspace disease behind the heart.", False),
    ],
)
def test_own_subjects_and_pointers(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # "the left more than the right" after a comma is the greater side of what comes before it
        ("FINDINGS: Blunting of the bilateral costophrenic angles, right greater than left, with hazy opacities at "
         "both bases.", "Both costophrenic angles are blunted, the left more than the right, with hazy opacities at "
         "both bases.", False),
        ("FINDINGS: Blunting of the bilateral costophrenic angles, right greater than left, with hazy opacities at "
         "both bases.", "Both costophrenic angles are blunted, the right more than the left, with hazy opacities at "
         "both bases.", True),
        # an aside on what a finding is does not make the finding general talk
        ("FINDINGS: The lungs are clear. No pleural effusion.",
         "There is a small left pleural effusion, a common incidental finding in adults.", False),
        ("FINDINGS: Calcified granuloma in the left upper lobe. The lungs are otherwise clear.",
         "There is a calcified granuloma in the left upper lobe, a common incidental finding in adults.", True),
    ],
)
def test_greater_sides_and_asides(validator, text, step, good):
    assert_judged(validator, text, step, good)


@pytest.mark.parametrize(
    "text,step,good",
    [
        # the rest of a thing called intact beside its broken part
        ("FINDINGS: Screw fixation of the right clavicle. The most lateral screw is broken.",
         "The lateral screw is broken, but the rest of the hardware looks intact.", True),
        ("FINDINGS: Screw fixation of the right clavicle. The most lateral screw is broken.",
         "All of the screws are intact.", False),
        # a definition is general talk; "This means ..." is an inference about the patient
        ("FINDINGS: Prominent ascending aorta, consistent with ectasia.",
         "Ectasia means mild dilatation short of a true aneurysm.", True),
        ("FINDINGS: Heart size is normal. The lungs are clear.", "This means a pleural effusion.", False),
    ],
)
def test_rest_of_things_and_definitions(validator, text, step, good):
    assert_judged(validator, text, step, good)
