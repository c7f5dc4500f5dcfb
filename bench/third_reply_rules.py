"""The third reply's rules (retrieval/answers/pinpoint.py `states_asked`) checked beyond the questions they
were written on: for every answerable `number` or `which` natural question, the rules should find the asked
figure or name in the whole abstract, and should not once the sentence holding the answer (`fragment`) is gone.

    python bench/third_reply_rules.py [--data ../shared/data]
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from retrieval.answers import pinpoint  # noqa: E402
from retrieval.answers.question import question_form  # noqa: E402
from retrieval.lexical.analyzer import Analyzer  # noqa: E402
from retrieval.quality.evaluate import default_data_dir  # noqa: E402
from retrieval.quality.natural import fold_text  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", type=Path, default=default_data_dir())
data = parser.parse_args().data
qs = [json.loads(line) for line in (data / "natural_questions" / "questions.jsonl").read_text().splitlines() if line]
papers = {}
for f in (data / "scitldr").glob("*.jsonl"):
    for line in f.read_text().splitlines():
        if line.strip():
            d = json.loads(line)
            papers[d["paper_id"]] = d
an = Analyzer()
counts = {
    form: {"answerable": 0, "whole: unstated": 0, "removed": 0, "removed: unstated": 0} for form in ("number", "which")
}
missing = {"number": [0, 0], "which": [0, 0]}  # the set's missing-detail questions: [third reply, of]
wrong = []
for q in qs:
    form = question_form(q["question"])
    if form not in ("number", "which"):
        continue
    asked = pinpoint.asked_terms(q["question"], form, an)
    if q["kind"] == "missing-detail":
        s = papers[q["near"]]["source"]
        missing[form][0] += not pinpoint.states_asked(q["question"], form, s, [an(x) for x in s], asked)
        missing[form][1] += 1
        continue
    if q["kind"] != "answerable":
        continue
    s = papers[q["expect"][0]]["source"]
    c = counts[form]
    c["answerable"] += 1
    if not pinpoint.states_asked(q["question"], form, s, [an(x) for x in s], asked):
        c["whole: unstated"] += 1
        wrong.append(q["id"] + " " + q["question"])
    frag = fold_text(q["fragment"])
    keep = [x for x in s if fold_text(frag[:40]) not in fold_text(x) and fold_text(x) not in frag]
    if len(keep) < len(s):
        c["removed"] += 1
        c["removed: unstated"] += not pinpoint.states_asked(q["question"], form, keep, [an(x) for x in keep], asked)
for form, c in counts.items():
    print(
        f"{form}: {c['answerable']} answerable; whole abstract, third reply {c['whole: unstated']}; answering"
        f" sentence removed, third reply {c['removed: unstated']} of {c['removed']}; missing-detail"
        f" {missing[form][0]} of {missing[form][1]}"
    )
for line in wrong:
    print("  whole abstract, third reply:", line)
