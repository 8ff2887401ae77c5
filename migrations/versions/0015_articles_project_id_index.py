"""articles: an index on (project_id, id) in place of the one on project_id alone

A page of a project's articles (the REST list's keyset page, the admin lists,
an export batch) asked for the project's articles after an id in id order.
PostgreSQL served it from the primary key and filtered by project, which
assumes project and id unrelated: a project whose articles are not the last
ids read on through other projects' articles (the last page of a walk read
every later article of the database), and an index on (project_id, id) beside
it changed nothing. The queries now order by (project_id, id), an order only
this index gives, so each reads its own project's rows from where it starts.
It also serves every lookup the index on project_id served (its first
column), which therefore goes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 10:00:00

"""
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_articles_project_id_id', 'articles', ['project_id', 'id'], unique=False)
    op.drop_index('ix_articles_project_id', table_name='articles')


def downgrade():
    op.create_index('ix_articles_project_id', 'articles', ['project_id'], unique=False)
    op.drop_index('ix_articles_project_id_id', table_name='articles')
