"""staged imports: big imports stored in committed chunks, invisible until published

A big upload or `annotator import` used to hold SQLite's write lock while it
segmented and stored the whole file, stalling every save. Now it stores its
articles in chunks, each its own short transaction, marked with the import's
id (articles.staged_import); pages, exports, assignment and agreement skip
articles whose import is still listed in staged_imports, and publishing deletes
that one row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 20:20:00

"""
import sqlalchemy as sa
from alembic import op



revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'staged_imports',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('file', sa.Text(), nullable=False),
        sa.Column('owner', sa.String(length=300), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_staged_imports_project_id_projects'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staged_imports')),
    )
    op.create_index(op.f('ix_staged_imports_project_id'), 'staged_imports', ['project_id'], unique=False)
    op.add_column('articles', sa.Column('staged_import', sa.String(length=32), nullable=True))
    op.create_index(op.f('ix_articles_staged_import'), 'articles', ['staged_import'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_articles_staged_import'), table_name='articles')
    with op.batch_alter_table('articles') as batch_op:
        batch_op.drop_column('staged_import')
    op.drop_index(op.f('ix_staged_imports_project_id'), table_name='staged_imports')
    op.drop_table('staged_imports')
