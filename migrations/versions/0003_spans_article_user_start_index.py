"""spans: index (article_id, user_id, start) in place of (article_id, user_id)

Creating a span now checks that the annotator has no span with the same label
and offsets (two tabs marking the same text). With the start offset in the
index that check reads one index entry instead of every span the annotator
has in the article; the old index is its prefix, so it goes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:40:00

"""
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_spans_article_user_start', 'spans', ['article_id', 'user_id', 'start'], unique=False)
    op.drop_index('ix_spans_article_user', table_name='spans')


def downgrade():
    op.create_index('ix_spans_article_user', 'spans', ['article_id', 'user_id'], unique=False)
    op.drop_index('ix_spans_article_user_start', table_name='spans')
