"""annotations: covering index (sentence_id, user_id, label) for agreement

The agreement figures read every label of a project in one query (labels
joined to sentences and articles); with this index SQLite and PostgreSQL
answer it from the index alone, without a table lookup per label.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 07:50:00

"""
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_annotations_sentence_user_label', 'annotations', ['sentence_id', 'user_id', 'label'], unique=False)


def downgrade():
    op.drop_index('ix_annotations_sentence_user_label', table_name='annotations')
