"""gold_article_labels: a reviewer's gold decision on an article label group of one article

Article labels had automatic gold only, computed whenever read (the export);
their disagreements now go to the reviewers' queue like sentences', and a
reviewer's decision is stored here: one row per (article, group), the values a
sorted JSON list, provenance adjudicated (or imported, from an article file's
gold), reviewer and reason as gold_labels keeps them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 18:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'gold_article_labels',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('group', sa.String(length=64), nullable=False),
        sa.Column('values', sa.JSON(), nullable=False),
        sa.Column('provenance', sa.String(length=16), nullable=False),
        sa.Column('reviewer_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("provenance IN ('adjudicated', 'imported')", name=op.f('ck_gold_article_labels_provenance')),
        sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_gold_article_labels_article_id_articles'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_gold_article_labels_reviewer_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_gold_article_labels')),
        sa.UniqueConstraint('article_id', 'group', name=op.f('uq_gold_article_labels_article_id_group')),
    )


def downgrade():
    op.drop_table('gold_article_labels')
