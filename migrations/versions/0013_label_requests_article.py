"""label_requests.article_id: the article a keyed label save or batch was on

A label rename rewrites every stored row that names the label; the stored
answers of label saves (a retry with the same request id gets its first answer
again) named the old label, and a retry after the rename was told of a label
the schema no longer has. The rename now rewrites the project's stored answers
too, and finds them by this column. Keys stored before it have none (they are
pruned within a day).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('label_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('article_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_label_requests_article_id_articles'), 'articles', ['article_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_label_requests_article_id'), ['article_id'], unique=False)


def downgrade():
    with op.batch_alter_table('label_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_label_requests_article_id'))
        batch_op.drop_constraint(batch_op.f('fk_label_requests_article_id_articles'), type_='foreignkey')
        batch_op.drop_column('article_id')
