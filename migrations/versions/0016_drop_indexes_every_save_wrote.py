"""annotations, audit_log: drop two indexes that every save wrote and no query needs

A batch save (a label and two spans) writes about 22 pages to SQLite's log, one
or more per B-tree it touches, and every page is written again when the log is
copied into the database. Two of those B-trees serve no read:
- ix_annotations_sentence_id (sentence_id): ix_annotations_sentence_user_label
  begins with the same column, so it serves every lookup by sentence (and
  PostgreSQL's ON DELETE CASCADE from sentences) the single-column one served;
- ix_audit_log_at (at): every read of the log (an account's trail, a rename's
  history, the segmentation undo) goes by entity, project or id, never by time.
Without them a save writes 19.4 pages instead of 21.8 (bench/bench_write_lock.py,
"log pages per save").

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 12:40:00

"""
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_annotations_sentence_id', table_name='annotations')
    op.drop_index('ix_audit_log_at', table_name='audit_log')


def downgrade():
    op.create_index('ix_audit_log_at', 'audit_log', ['at'], unique=False)
    op.create_index('ix_annotations_sentence_id', 'annotations', ['sentence_id'], unique=False)
