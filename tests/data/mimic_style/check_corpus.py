#!/usr/bin/env python3
"""Checks that the synthetic MIMIC-style corpus agrees with itself. Run: python3 check_corpus.py"""
import csv, os, re, sys

HERE = os.path.dirname(os.path.abspath(__file__))
LABELS = ['Atelectasis', 'Cardiomegaly', 'Consolidation', 'Edema', 'Enlarged Cardiomediastinum', 'Fracture',
          'Lung Lesion', 'Lung Opacity', 'No Finding', 'Pleural Effusion', 'Pleural Other', 'Pneumonia',
          'Pneumothorax', 'Support Devices']
HEADER = re.compile(r'^\s*(WET READ|EXAMINATION|INDICATION|HISTORY|CLINICAL HISTORY|TECHNIQUE|COMPARISON|'
                    r'FINDINGS|IMPRESSION|CONCLUSION|RECOMMENDATION\(S\)|RECOMMENDATIONS?|NOTIFICATION|'
                    r'ADDENDUM)\s*:\s*(.*)$')


def sections(text):
    lines = text.splitlines()
    start = 0
    for i, ln in enumerate(lines):
        if ln.strip() == 'FINAL REPORT':
            start = i + 1
    secs, cur = {}, None
    body = []  # text lines after the banner, excluding header lines, for free-text reports
    for ln in lines[start:]:
        m = HEADER.match(ln)
        if m:
            cur = m.group(1)
            secs.setdefault(cur, [])
            if m.group(2).strip():
                secs[cur].append(m.group(2).strip())
            continue
        if ln.strip():
            body.append(ln.strip())
            if cur:
                secs[cur].append(ln.strip())
    join = lambda k: ' '.join(secs.get(k, []))
    if 'FINDINGS' not in secs and 'IMPRESSION' not in secs and 'CONCLUSION' not in secs:
        assert not secs, 'free-text report should have no headers'
        return ' '.join(body), ''
    imp = join('IMPRESSION') if 'IMPRESSION' in secs else join('CONCLUSION')
    return join('FINDINGS'), imp


def main():
    with open(os.path.join(HERE, 'reports_oneline.csv'), newline='') as fh:
        one = {r['study_id']: r for r in csv.DictReader(fh)}
    with open(os.path.join(HERE, 'chexpert_gold.csv'), newline='') as fh:
        rdr = csv.DictReader(fh)
        assert rdr.fieldnames == ['subject_id', 'study_id'] + LABELS, rdr.fieldnames
        gold = {r['study_id']: r for r in rdr}
    with open(os.path.join(HERE, 'chexpert_gold_b.csv'), newline='') as fh:
        gold_b = {r['study_id']: r for r in csv.DictReader(fh)}
    txts = {}
    for root, _, files in os.walk(os.path.join(HERE, 'files')):
        for f in files:
            assert f.endswith('.txt') and re.fullmatch(r's\d{8}\.txt', f), f
            subj = os.path.basename(root)
            assert re.fullmatch(r'p\d{8}', subj) and os.path.basename(os.path.dirname(root)) == subj[:3], root
            txts[f[1:9]] = (subj[1:], os.path.join(root, f))
    errors = []
    assert len(txts) >= 60, len(txts)
    assert set(txts) == set(one) == set(gold) == set(gold_b), 'study id sets differ'
    crlf = caps = 0
    for study, (subj, path) in sorted(txts.items()):
        raw = open(path, 'rb').read()
        crlf += b'\r\n' in raw
        text = raw.decode('utf-8')
        caps += text == text.upper()
        for ln in text.splitlines():
            if len(ln) > 80 and 'FINAL REPORT' not in ln:
                errors.append(f'{study}: line longer than 80 chars: {ln!r}')
        f, i = sections(text)
        row = one[study]
        if row['subject_id'] != subj or gold[study]['subject_id'] != subj:
            errors.append(f'{study}: subject mismatch')
        if f != row['findings']:
            errors.append(f'{study}: findings mismatch\n  txt: {f}\n  csv: {row["findings"]}')
        if i != row['impression']:
            errors.append(f'{study}: impression mismatch\n  txt: {i}\n  csv: {row["impression"]}')
        if not (f or i):
            errors.append(f'{study}: empty report')
        g = gold[study]
        for lab in LABELS:
            if g[lab] not in ('', '1.0', '0.0', '-1.0'):
                errors.append(f'{study}: bad value {lab}={g[lab]!r}')
        patho = [l for l in LABELS if l not in ('No Finding', 'Support Devices')]
        nf = '1.0' if all(g[l] in ('', '0.0') for l in patho) else ''
        if g['No Finding'] != nf:
            errors.append(f'{study}: No Finding should be {nf!r}')
    for e in errors:
        print('ERROR', e)
    counts = {}
    for g in gold.values():
        for lab in LABELS:
            counts[g[lab] or 'blank'] = counts.get(g[lab] or 'blank', 0) + 1
    print(f'{len(txts)} reports, {len({s for s, _ in txts.values()})} patients, {crlf} CRLF, {caps} all-caps; '
          f'gold cells: {counts}')
    if errors:
        sys.exit(1)
    print('OK')


if __name__ == '__main__':
    main()
