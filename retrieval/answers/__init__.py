"""Stage 3, what a user is shown: ranked papers in, search results, cited answers, TL;DRs and digests out.

`search.py` joins hits with their records and filters. For a question, `answer.py` first judges
whether the corpus holds an answer at all (`answerability.py`), then scores each sentence of the top
papers as evidence (`evidence.py`; for a question, what it asks for: `question.py`, `pinpoint.py`) and quotes the best verbatim with numbered
citations; `conversation.py` carries follow-ups; `tldr.py` and `digest.py` summarise new papers;
`models.py` checks the shipped model files before the bot says it can answer.
"""
