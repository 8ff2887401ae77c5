"""project_members: each project's annotators and reviewers

Balanced assignment and re-balancing draw only on a project's annotators, and
reviewers open only their projects' review pages and exports (admins see all).

Existing databases keep working as before the upgrade:
* every annotator with an assignment, a label or a span in a project becomes a
  member of it, so their work and queue stay where they were;
* every reviewer becomes a member of every existing project, since until now
  reviewers could open all of them; an admin narrows that down afterwards
  (`annotator projects members PROJECT --remove NAME`, or the project's
  Members page).
Admins are never members: they see every project.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 20:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


EXISTING_MEMBERS = """
INSERT INTO project_members (project_id, user_id, created_at)
SELECT DISTINCT work.project_id, work.user_id, CURRENT_TIMESTAMP
FROM (
    SELECT a.project_id AS project_id, s.user_id AS user_id
    FROM assignments s JOIN articles a ON a.id = s.article_id
    UNION
    SELECT a.project_id, n.user_id
    FROM annotations n JOIN sentences se ON se.id = n.sentence_id JOIN articles a ON a.id = se.article_id
    UNION
    SELECT a.project_id, sp.user_id
    FROM spans sp JOIN articles a ON a.id = sp.article_id
) AS work
JOIN users u ON u.id = work.user_id
WHERE u.role = 'annotator'
UNION
SELECT p.id, u.id, CURRENT_TIMESTAMP
FROM projects p CROSS JOIN users u
WHERE u.role = 'reviewer'
"""


def upgrade():
    op.create_table('project_members',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_members_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_project_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'user_id', name=op.f('pk_project_members'))
    )
    with op.batch_alter_table('project_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_members_user_id'), ['user_id'], unique=False)
    op.execute(EXISTING_MEMBERS)


def downgrade():
    with op.batch_alter_table('project_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_members_user_id'))
    op.drop_table('project_members')
