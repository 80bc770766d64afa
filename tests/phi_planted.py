"""Made-up chest X-ray reports with planted identifiers (names, dates, phones, MRNs, ...), for PHI tests.

Every identifier is invented here; `planted_reports()` returns (report id, text, [(entity, value)]) so a
test can check that each planted value is found (recall per entity type) and gone after masking.
"""

from __future__ import annotations

import itertools

FIRST = ["John", "Maria", "Alice", "Robert", "Priya", "Kwame", "Elena", "Tomasz", "Grace", "Hiroshi", "Fatima",
         "Liam"]
LAST = ["Carver", "Okafor", "Brenner", "Lindqvist", "Ramirez", "Nakamura", "O'Neil", "Kowalski", "Haddad",
        "Fitzgerald", "Achterberg", "Moreau"]
MONTHS = ["January", "March", "April", "June", "August", "October", "December"]

# (template, [(entity, placeholder)]) — placeholders are filled per report; the clinical text is ordinary
TEMPLATES = [
    ("FINDINGS: Patient name: {name}. MRN: {mrn}. Exam date {date_slash}. The heart is enlarged. There is a small "
     "right pleural effusion. IMPRESSION: Cardiomegaly. Call {phone} with questions.",
     [("PERSON", "name"), ("MRN", "mrn"), ("DATE", "date_slash"), ("PHONE", "phone")]),
    ("FINDINGS: Lungs are clear. No pneumothorax. Compared with {date_words}. Accession # {acc}. IMPRESSION: No acute "
     "disease. Dictated by {name}.",
     [("DATE", "date_words"), ("MRN", "acc"), ("PERSON", "name")]),
    ("INDICATION: cough. FINDINGS: Left lower lobe opacity consistent with pneumonia. Results discussed with "
     "Dr. {last} at {phone} on {date_iso}. IMPRESSION: Pneumonia.",
     [("PERSON", "dr"), ("PHONE", "phone"), ("DATE", "date_iso")]),
    ("FINDINGS: Stable mild cardiomegaly. Patient {name}, medical record number {mrn}, SSN {ssn}. Fax results to "
     "{phone}. IMPRESSION: Stable.",
     [("PERSON", "name"), ("MRN", "mrn"), ("SSN", "ssn"), ("PHONE", "phone")]),
    ("FINDINGS: No focal consolidation. Prior study {date_slash}. Contact {email} or see {url}. Home address "
     "{address}. IMPRESSION: Normal chest.",
     [("DATE", "date_slash"), ("EMAIL", "email"), ("URL", "url"), ("ADDRESS", "address")]),
    ("FINDINGS: Small left effusion. Electronically signed by {name} on {date_words}. MRN {mrn}. IMPRESSION: "
     "Effusion. Reviewed by Dr. {last}.",
     [("PERSON", "name"), ("DATE", "date_words"), ("MRN", "mrn"), ("PERSON", "dr")]),
    # no label before the name: only NER can find it (the `patterns` engine misses it by design)
    ("FINDINGS: {name} is a 54 year old with cough. The lungs are clear. Seen on {date_slash}. IMPRESSION: Normal.",
     [("PERSON", "name"), ("DATE", "date_slash")]),
]


def planted_reports(n: int = 48) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """`n` made-up reports: (report_id, text, [(entity, planted value), ...])."""
    out = []
    names = itertools.cycle(itertools.product(FIRST, LAST))
    for k in range(n):
        template, slots = TEMPLATES[k % len(TEMPLATES)]
        first, last = next(names)
        day, month, year = 1 + (k * 7) % 27, 1 + (k * 5) % 12, 2015 + k % 9
        values = {
            "name": f"{first} {last}",
            "last": last,
            "dr": f"Dr. {last}",
            "mrn": f"{40000000 + k * 7919}",
            "acc": f"A{7000000 + k * 613}",
            "date_slash": f"{month:02d}/{day:02d}/{year}",
            "date_words": f"{MONTHS[k % len(MONTHS)]} {day}, {year}",
            "date_iso": f"{year}-{month:02d}-{day:02d}",
            "phone": ["(317) 555-{:04d}", "317-555-{:04d}", "317.555.{:04d}"][k % 3].format(100 + k),
            "ssn": f"{500 + k:03d}-{10 + k % 80:02d}-{1000 + k:04d}",
            "email": f"{first.lower()}.{last.lower().replace(chr(39), '')}{k}@example-hospital.org",
            "url": f"https://portal.example-hospital.org/patient/{9000 + k}",
            "address": f"{100 + k} {['North Maple', 'Elm', 'West Washington'][k % 3]} Street, Indianapolis, "
                       f"IN 4620{k % 10}",
        }
        text = template.format(**values)
        out.append((f"phi-{k:03d}", text, [(entity, values[slot]) for entity, slot in slots]))
    return out


def write_planted_csv(path, n: int = 48) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Write the reports as a CSV with `report_id,text` (the sectionizer splits FINDINGS / IMPRESSION)."""
    import csv

    reports = planted_reports(n)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["report_id", "text"])
        for rid, text, _ in reports:
            w.writerow([rid, text])
    return reports
