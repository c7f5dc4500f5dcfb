"""What a question asks for, read from its words alone: the kind of fact, the phrase naming it, its scope.

A reader asking "how many layers…" wants a number, "how do you…" a method, "why…" a reason, "does X
help Y?" a finding, "what is X" a definition, "which paper…" a paper. Knowing the kind lets the answer
quote the sentence that gives it rather than the one that restates the question, and lets paperbot say
plainly when the abstract it found does not give it ("… does not state the number of layers").

Questions about the whole collection ("how many papers…", "the most common dataset across these
abstracts") cannot be answered by quoting one abstract; `about_collection` recognises them.

Statements (SciFact claims, TLDRs) and keyword queries ask for no particular kind (`form` None), so
everything here leaves their answers as they were. Plain English patterns, nothing learned.
"""

from __future__ import annotations

import re
from typing import Literal

Form = Literal["number", "how", "why", "yes-no", "what-is", "which", "paper"]

_LEAD = r"^\W*(?:(?:so|and|ok|hey|hi|q|question)\W+)?(?:(?:do|does) (?:anyone|somebody|someone) know\W+)?"
_FORMS: tuple[tuple[Form, re.Pattern[str]], ...] = (
    (
        "paper",
        re.compile(
            _LEAD + r"(?:which|what) (?:paper|papers|work|article|study|method|model|approach|technique|system)s? "
            r"(?:introduc|propos|present|show|use|describ|find|found|argu|report|demonstrat|did|does|do|is|was|has|can)|"
            + _LEAD
            + r"(?:which|what) (?:[\w-]+ ){0,3}?(?:framework|algorithm|architecture|optimi[sz]er|scheme|estimator|"
            r"method|model|approach|technique)s? (?:has|have|is|was|can|could|lets?|allows?|makes?|gives?|learns?|"
            r"handles?|works?|beats?|outperforms?|combines?|treats?|unifies|covers?|generali[sz]es|introduc\w*|"
            r"propos\w*)\b|"
            + _LEAD
            + r"(?:is there|are there|any|anyone (?:using|tried|doing)|has anyone|was there|know (?:of )?any|"
            r"looking for|paper (?:on|about|that)|papers? (?:on|about|that))\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            _LEAD + r"(?:(?:up )?to what|on|by|at|in|with|for|from)? ?(?:how (?:much|many|fast|large|big|long|small|"
            r"accurate|often|far|deep|wide|high|low)\b|what (?:(?:is|was|are|were) the )?(?:\w+[- ])?(?:\w+[- ])?(?:\w+[- ])?"
            r"(?:accuracy|percentage|rate|number|size|speed-?up|speedup|score|error|cost|performance|perplexity|"
            r"f1|bleu|auc|ap|map|reward|gain|ratio|budget|compression|improvement|correlation|success|"
            r"factor|amount|fraction|memory|time|latency|throughput|epsilon|precision|recall|bound|perplexity|"
            r"likelihood|loss|ratio|margin|bits?|nats|flops|parameters)s?\b|what [\w-]+(?: [\w-]+){0,2} (?:do|does|did) "
            r".+ (?:get|reach|achieve|obtain|score|hit|report)\b)",
            re.I,
        ),
    ),
    ("why", re.compile(_LEAD + r"(?:why|what (?:is|'s) the reason|for what reason|how come)\b", re.I)),
    (
        "how",
        re.compile(
            _LEAD + r"(?:how (?:do|does|did|can|could|should|would|is|are|was|were|to)\b|"
            r"what (?:method|approach|technique|trick|way)s? (?:do|does|did|can|is|are)\b)",
            re.I,
        ),
    ),
    (
        "which",
        re.compile(
            _LEAD + r"(?:which|what) (?!is\b|are\b|was\b|were\b|'s\b)[\w-]+(?: [\w-]+)?(?: [\w-]+)? "
            r"(?:do|does|did|is|are|was|were|can|has|have|should)\b",
            re.I,
        ),
    ),
    (
        "what-is",
        re.compile(
            _LEAD + r"(?:what(?:'s| is| are| was| were)|define|definition of|explain|what does [\w-]+ mean)\b", re.I
        ),
    ),
    (
        "yes-no",
        re.compile(
            _LEAD + r"(?:do|does|did|is|are|was|were|can|could|will|would|should|has|have|had|must)\b(?! anyone\b)",
            re.I,
        ),
    ),
)


def question_form(question: str) -> Form | None:
    """The kind of fact a question asks for, or None for a statement or a keyword query."""
    text = question.strip()
    for form, pattern in _FORMS:
        if pattern.search(text):
            return form
    return None


# ---------------------------------------------------------------------------- what the sentence gives

_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|"
    r"million|billion|dozen|half|twice|double|triple|quadruple|percent|fold|order of magnitude|orders of magnitude"
)
QUANTITY = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b|\bx\s?\d|[×]", re.I)
RESULT = re.compile(
    r"\b(?:outperform\w*|improv\w*|achiev\w*|surpass\w*|beat\w*|exceed\w*|gain\w*|boost\w*|reduc\w*|increas\w*|"
    r"decreas\w*|better|worse|faster|slower|fewer|higher|lower|superior|comparable|competitive|state[- ]of[- ]the[- ]art|"
    r"sota|robust\w*|effective\w*|success\w*|fail\w*|hurt\w*|help\w*|match\w*|converg\w*|generaliz\w*|generalis\w*)\b",
    re.I,
)
FINDING = re.compile(
    r"\b(?:we (?:show|find|found|observe|demonstrate|prove|establish|confirm|argue)|(?:show|find|reveal|demonstrate|"
    r"prove|indicate|suggest|confirm)s? that|results? (?:show|indicate|suggest)|(?:does|do|did|is|are|was|were|can|"
    r"cannot|could) not|n't|\bno\b|\bneither\b|\bonly\b|\bhowever\b|\bcontrary\b|\bsurprising\w*)\b",
    re.I,
)
METHOD = re.compile(
    r"\b(?:by (?:\w+ing|using|means|a|an|the)|via|through|using|based on|consists? of|relies on|leverag\w*|employ\w*|"
    r"introduc\w* a|we (?:use|train|apply|learn|design|construct|formulate|model|replace|add|combine|optimi[sz]e|"
    r"decompose|compute|approximate|propose to)|is achieved by|in which|where(?:by)?|such that|so that)\b",
    re.I,
)
REASON = re.compile(
    r"\b(?:because|due to|since|as a result|leads? to|caus\w*|owing to|explain\w*|reason\w*|therefore|thus|hence|"
    r"this is|which (?:makes|allows|means|leads|results)|attribut\w*|stems? from|arises?|the key)\b",
    re.I,
)
DEFINITION = re.compile(
    r"\b(?:is|are) (?:an?|the) |\brefers? to\b|\bwe (?:define|call|term|introduce|propose|present|describe)\b|"
    r"\bis defined\b|\bknown as\b|\bcalled\b|, an? [\w-]+ (?:\w+ )?(?:for|that|which|of)\b",
    re.I,
)
INTRO = re.compile(
    r"^\W*(?:in this (?:paper|work)|this (?:paper|work)|here,? )?,?\s*we (?:propose|present|introduce)\b", re.I
)
# a sentence that leans on the one before it: quoted alone it does not stand
LEANS_BACK = re.compile(
    r"^\W*(?:moreover|furthermore|additionally|in addition|also|besides|however|thus|therefore|hence|"
    r"consequently|to (?:this|that) end|to (?:achieve|address|do|accomplish|solve|tackle|overcome|remedy) "
    r"(?:this|that|these|those|it)|for (?:this|that) (?:reason|purpose)|as a result|in (?:particular|contrast)|"
    r"specifically|similarly|likewise|instead|then|finally|second(?:ly)?|third(?:ly)?|"
    r"(?:this|these|that|those|it|they|such)\b(?! (?:paper|work|article|study)\b))",
    re.I,
)

CUES = {
    "quantity": QUANTITY,
    "result": RESULT,
    "finding": FINDING,
    "method": METHOD,
    "reason": REASON,
    "definition": DEFINITION,
    "intro": INTRO,
    "leans_back": LEANS_BACK,
}


def cues(sentence: str) -> dict[str, bool]:
    """Which of the cue patterns a sentence shows (quantity, result, finding, method, reason, definition, …)."""
    return {name: bool(pattern.search(sentence)) for name, pattern in CUES.items()}


# ---------------------------------------------------------------------------- what was asked, in a phrase

_STOP_AT = re.compile(
    r"\b(?:do|does|did|is|are|was|were|can|could|would|should|will|has|have|had|need|needed|use|used|get|gets|"
    r"reach|reaches|give|gives|add|adds|save|saves|achieve|achieves|improve|improves|the|a|an|for|on|in|of|with|"
    r"by|to|from|at|than|vs|versus|you|we|they|it|when|if)\b",
    re.I,
)


def _head(rest: str, words: int = 4) -> str:
    """The noun phrase at the start of `rest`: up to `words` words, cut at the first verb or preposition."""
    rest = re.sub(r"^(?:an?|the)\s+", "", rest.strip(), flags=re.I)
    cut = _STOP_AT.search(rest)
    phrase = rest[: cut.start()] if cut else rest
    phrase = re.sub(r"[?.!,;:]+.*$", "", phrase).strip()
    return " ".join(phrase.split()[:words])


def asked_phrase(question: str, form: Form | None = None) -> str:
    """What the reply says is unstated: "the number of layers", "the perplexity", "which datasets", "the method".

    Read from the question's own words, so it always names what the reader asked about.
    """
    text = re.sub(r"\s+", " ", question.strip())
    form = form or question_form(text)
    if m := re.search(r"\bhow many ([\w-]+(?: [\w-]+){0,3})", text, re.I):
        head = _head(m.group(1))
        if head:
            return f"how many {head}"
    if m := re.search(
        r"\bhow much (?:do|does|did|can|could|will|would)\b.+? (?:improve|increase|reduce|cut|add|boost|save|"
        r"lower|raise|help|speed up|shrink|decrease)s? (?:the )?([\w-]+(?: [\w-]+){0,2})",
        text,
        re.I,
    ):
        head = _head(m.group(1))
        if head:
            return f"how much it changes {head}"
    if m := re.search(r"\bhow (much|fast|large|big|long|accurate|often|far|deep|high|low)\b ?([\w-]+)?", text, re.I):
        noun = m.group(2) or ""
        head = _head(noun + text[m.end() :]) if noun and not _STOP_AT.fullmatch(noun) else ""
        if not head and noun.lower() in ("a", "an"):  # "how big a perturbation …"
            head = _head(text[m.end() :])
            head = f"{noun.lower()} {head}" if head else ""
        how = m.group(1).lower()
        if head:
            return f"how {how} {head}"
        return {"long": "how long it takes", "much": "the figure asked for"}.get(how, f"how {how} it is")
    if m := re.search(
        r"\bwhat (?:is |was |are |were )?(?:the )?((?:[\w-]+ ){0,3}?[\w-]+)(?: \([^)]*\))? "
        r"(?:do|does|did|is|are|was|were|can|could|would|has|have)\b",
        text,
        re.I,
    ):
        head = m.group(0)[len("what ") :]
        head = re.sub(r" (?:do|does|did|is|are|was|were|can|could|would|has|have)$", "", head, flags=re.I)
        head = re.sub(r"^(?:is|was|are|were) ", "", head, flags=re.I)
        if form == "number" or form == "which":
            return head if head.lower().startswith("the ") else f"the {head}"
    if m := re.search(r"\bwhich ([\w-]+(?: [\w-]+){0,3})", text, re.I):
        head = _head(m.group(1))
        if head:
            return f"which {head}"
    return {
        "number": "the figure asked for",
        "how": "how it is done",
        "why": "the reason",
        "yes-no": "whether that holds",
        "what-is": "a definition",
        "which": "which one",
        "paper": "such a paper",
    }.get(form or "", "what was asked")


# ---------------------------------------------------------------------------- questions about the collection

_PAPERS = r"(?:papers|abstracts|articles|works|entries|publications|documents)"  # plural: "the paper" is one
_SCOPE = re.compile(
    r"\b(?:(?:these|the|all(?: (?:the|these|of the|of these))?|our|this|your|every|each|most(?: of the)?|"
    r"many|which|what) " + _PAPERS + r"\b|"
    r"(?:in|across|over|among|within|from|of) (?:the |this |these |your |our |all (?:the |these )?)?"
    r"(?:corpus|collection|library|database|dataset of papers|set of papers|" + _PAPERS + r"\b)|"
    r"(?:in|across|over|among|within|from|of) (?:this|the|our|your|these) set\b|"
    r"(?:across|among|over|of|in) (?:all |both )?(?:the |these |those )?(?:[\w-]+ ){1,3}" + _PAPERS + r"\b|"
    r"(?:every|each|all(?: the)?) (?:[\w-]+ ){0,3}(?:paper|abstract)s?\b|"
    r"(?:papers?|abstracts?) (?:here|in here|so far|you have|you know)\b|(?:corpus|collection|library)\b)",
    re.I,
)
_AGGREGATE = re.compile(
    r"\b(?:how many|number of|count|counts|percent(?:age)?|%|proportion|share|fraction|ratio of|majority|most|"
    r"least|fewest|more|fewer|typical(?:ly)?|average|mean|median|total|overall|trends?|trended|changed|evolved|"
    r"over the years|over time|distribution|list (?:all|every|each)|sort|rank|order by|top \d+|frequent(?:ly)?|"
    r"common(?:est)?|popular|largest|highest|lowest|smallest|biggest|best|worst)\b",
    re.I,
)
_COLLECTION = (
    re.compile(r"\bhow many (?:of (?:these|the|your|our) )?" + _PAPERS + r"\b", re.I),
    re.compile(r"\b(?:count|list|enumerate|tally|sort|rank) (?:all |every |each |the )?" + _PAPERS + r"\b", re.I),
    re.compile(r"\b(?:most|least) cited\b", re.I),
    re.compile(r"\btop \d+ (?:topics|papers|methods|datasets|authors|themes|keywords)\b", re.I),
    re.compile(r"\b(?:show|shows|appear|appears|turn|turns) up (?:the )?most\b", re.I),
    re.compile(
        r"\b(?:which|what) (?:author|institution|lab|group|university|company|year|venue|conference|month)s? "
        r"(?:has|have|had|published|wrote|contributed|appears?)\b.*\b(?:most|more|fewest|least)\b",
        re.I,
    ),
    re.compile(r"\b(?:more|fewer) [\w-]+ (?:papers|abstracts|works) (?:or|than)\b", re.I),
)


def about_collection(question: str) -> bool:
    """Whether the question is about the whole collection (counts, "most common", averages, rankings, trends)."""
    if any(pattern.search(question) for pattern in _COLLECTION):
        return True
    return bool(_SCOPE.search(question) and _AGGREGATE.search(question))


_COLLECTION_WORDS = re.compile(
    r"\b(?:how many|what|which|fraction|share|percentage|proportion|portion|number|of|the|these|this|all|every|each|"
    r"papers?|abstracts?|articles?|works?|corpus|collection|set|library|database|dataset of papers|in|here|across|"
    r"over|among|within|from|most|least|common|popular|frequent|often|used|cited|studied|reported|mention|mentions|"
    r"average|mean|median|typical|total|overall|rank|sort|order|list|count|enumerate|tally|top \d+|topics?|trend\w*|"
    r"changed|evolved|years?|time|are|is|were|was|do|does|did|there|more|fewer|than|or|vs|versus|about|shows? up|"
    r"appears?|turns? up|has|have|had|by|release|releases|their|use|uses|using|propose|proposes|a|an|new|report|"
    r"reports|results? on|in here|so far|our|your|you|me|tell|give|show|that|which|who|whose|contributed|"
    r"contribute|interest|share|proportion|majority|median|sort|rank|order|ordered|sorted|ranked|publication|"
    r"published|per|paper|abstract|article|entries|publications|documents|highest|lowest|largest|smallest|best|"
    r"worst|biggest|percent|frequently|frequent|appears?|shows?|mention|mentions|mentioned|works|both|those|"
    r"has|get|gets|venue|venues|institution|institutions|author|authors|year|years|topics?|how|did|been|"
    r"library|database|distribution|any|some|it|its|there)\b",
    re.I,
)


def collection_topic(question: str) -> str:
    """The question without its collection words: the topic a search can count ("GANs", "BERT", "pruning")."""
    topic = _COLLECTION_WORDS.sub(" ", re.sub(r"'s\b", " ", question))
    words = re.sub(r"[^\w\s+#.-]", " ", topic).split()
    edges = {"to", "on", "of", "about", "in", "for", "with", "by", "and", "or", "vs", "from", "at"}
    while words and words[0].lower() in edges:
        words.pop(0)
    while words and words[-1].lower() in edges:
        words.pop()
    return " ".join(words).strip(" .-")


_GENERIC = re.compile(
    r"\b(?:architecture|model|models|method|methods|approach|framework|algorithm|network|networks|paper|idea|"
    r"technique|system|thing|concept|exactly|really|actually|basically|called|known as)\b",
    re.I,
)


def named_subject(question: str) -> str | None:
    """What a "what is X" question names, without generic words ("the Perceiver architecture" → "Perceiver")."""
    m = re.match(
        r"^\W*(?:so,? )?(?:what(?:'s| is| are| was| were)|define|explain)\s+(?:the |a |an )?(.+?)\W*$",
        question.strip(),
        re.I,
    )
    if not m:
        return None
    subject = " ".join(_GENERIC.sub(" ", m.group(1)).split())
    subject = re.split(r"[,;]| in | for | and how | used ", subject)[0].strip()
    return subject or None
