"""spans: an index on (article_id, start, end, label, user_id), whoever the annotator

Two reads inside every span or label save's write lock looked spans up by their
offsets across annotators: how many annotators marked exactly this span
(gold/incremental.py, _MARKERS) and whether a span with that many markers is
over a sentence (gold/refresh.py, spans_over). The only index on spans began
(article_id, user_id), so both read every span of the article: the save's work
grew with the article's spans. With this index the first is one seek, the
second reads only the spans that start before the sentence's end, in the
index's order (no sort of the article's spans).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 09:20:00

"""
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_spans_article_offsets_label_user', 'spans', ['article_id', 'start', 'end', 'label', 'user_id'], unique=False)


def downgrade():
    op.drop_index('ix_spans_article_offsets_label_user', table_name='spans')
