"""The dataset: a project's articles and annotations as JSON records, streamed.

Two units, each described by a JSON Schema shipped in annotator/schemas/:

* ``article`` (lossless, canonical): one record per article with its text,
  sentences, every annotator's labels, spans and relations, gold, and the
  article's ``suggestions`` (what suggesters propose: nobody's annotation, so
  never under ``annotations``; each item names its suggester and version).
  ``annotator import-annotations`` reads it back (see import_annotations/).
* ``sentence`` (for training): one record per sentence with its gold label,
  gold spans and relations (offsets relative to the sentence and in the
  article) and every annotator's label, spans and relations for it.

Every annotator's label, span and relation carries ``origin`` ("manual", or
"suggested": an accepted suggestion not changed since) with ``suggester`` and
``suggester_version`` (null for manual), spelled by records.origin_json as the
API spells them; in the sentence unit, an entry's origin is its label's (null
without a label).  Gold has its own provenance instead.

Offsets are code points into the article's text: ``text[start:end] ==
span["text"]`` for every span (in the sentence unit, into the sentence's
text).  Timestamps are ISO 8601 UTC ending in ``Z``.

In the sentence unit a span appears in every sentence it overlaps as its piece
in that sentence: ``start``/``end`` relative to the sentence and
``article_start``/``article_end`` in the article are the piece (so both
``sentence_text[start:end]`` and ``article_text[article_start:article_end]``
are the piece's ``text``), ``span_start``/``span_end`` are the whole span in
the article, and ``clipped`` is true when the piece is less than the whole span
(a span across a sentence boundary: one piece per sentence, all under the
span's id).  A span over only the whitespace between sentences is in no
sentence record (the article unit has it).  A relation appears in the
sentences of both its ends and names each end's span id and sentence index
(``from_sentence``, ``to_sentence``), so a quote linked to a source in the
next sentence is visible from both.

Records stream in article id order, in batches of BATCH_SIZE articles, each
batch loaded with one SQLAlchemy Core query per table (no ORM objects, no
query per article; rows read through the driver's cursor), so memory stays
flat whatever the project's size.  `annotator export` runs one forked
process per article range for big projects (cli/dataset.py); the output is
the same bytes.

Three steps, one module each: load.py reads the batches, shape.py makes the
records of a unit (labels, spans, relations and timestamps spelled by
domain/records.py, as in the API), write.py writes JSONL lines and knows the
schemas, splits and file names; options.py checks what was asked for.
formats/ writes the article unit in other tools' formats (Label Studio, doccano, BBC Citron).

Not exported (so not carried through an export -> import round trip):
database ids, an annotation's edit counter (``version``), the creation and
update times of articles, spans and relations (labels and gold keep theirs),
and the project's settings.  Everything exported survives the round trip
byte for byte (tests/test_export.py).

Splits (``--split train=0.8,dev=0.1,test=0.1 --seed 13``) are by article: an
article's split is picked by a seeded SHA-256 hash of its external id, so it
needs no second pass, never depends on the other articles (adding articles
never moves an existing one to another split) and is the same for the same
seed on any machine.  The proportions are therefore met in expectation, not
exactly.
"""
from __future__ import annotations

from annotator.domain.dataset.export.load import BATCH_SIZE, STREAM_BATCH_SIZE, article_ranges, count_articles
from annotator.domain.dataset.export.options import (
    DEFAULT_SEED,
    DEFAULT_SPLITS,
    DEFAULT_UNIT,
    QUERY_PARAMETERS,
    UNITS,
    ExportError,
    Filters,
    Query,
    Split,
    check_filters,
    parse_labels,
    parse_query,
    parse_split,
)
from annotator.domain.dataset.export.shape import iter_articles, iter_records, iter_sentences
from annotator.domain.dataset.export.write import download_name, dumpb, records_of_split, schema, split_of

__all__ = [
    "BATCH_SIZE",
    "STREAM_BATCH_SIZE",
    "DEFAULT_SEED",
    "DEFAULT_SPLITS",
    "DEFAULT_UNIT",
    "QUERY_PARAMETERS",
    "UNITS",
    "ExportError",
    "Filters",
    "Query",
    "Split",
    "article_ranges",
    "check_filters",
    "count_articles",
    "download_name",
    "dumpb",
    "iter_articles",
    "iter_records",
    "iter_sentences",
    "parse_labels",
    "parse_query",
    "parse_split",
    "records_of_split",
    "schema",
    "split_of",
]
