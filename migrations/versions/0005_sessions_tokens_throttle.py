"""users.session_generation, api_tokens.expires_at / last_used_at, login_failures.last_at

A session generation per user, in the session and remember-me cookies, so that
logout, a new password or role and "log out everywhere" end a user's sessions;
API tokens that expire and show their last use; login throttling with a
growing delay per (user name, address) pair, whose failures are forgotten
after a quiet window counted from the latest one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 20:10:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('login_failures') as batch:
        batch.add_column(sa.Column('last_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('login_failures') as batch:
        batch.drop_column('last_at')
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('last_used_at')
        batch.drop_column('expires_at')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('session_generation')
