"""article_labels: an annotator's article-level labels (a stance, a document class), one row per group

Document-level labels (issue 18). The label schema gains an optional
`article_labels` section (groups with their values, `multiple` or not); this
table holds each annotator's answer per (article, group), the values as a
sorted JSON list, with the same origin fields as sentence labels.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 02:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'article_labels',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('group', sa.String(length=64), nullable=False),
        sa.Column('values', sa.JSON(), nullable=False),
        sa.Column('guidelines_version', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('origin', sa.String(length=16), server_default='manual', nullable=False),
        sa.Column('suggester', sa.String(length=100), nullable=True),
        sa.Column('suggester_version', sa.String(length=64), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('version >= 1', name=op.f('ck_article_labels_version')),
        sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_labels_article_id_articles'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_article_labels_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_article_labels')),
        sa.UniqueConstraint('article_id', 'user_id', 'group', name=op.f('uq_article_labels_article_id_user_id_group')),
    )
    op.create_index(op.f('ix_article_labels_article_id'), 'article_labels', ['article_id'], unique=False)
    op.create_index(op.f('ix_article_labels_user_id'), 'article_labels', ['user_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_article_labels_user_id'), table_name='article_labels')
    op.drop_index(op.f('ix_article_labels_article_id'), table_name='article_labels')
    op.drop_table('article_labels')
