"""api_tokens.issue_key: the one-use key of the web form that issued a token

The admin page showed a new token on a page after a redirect, handing it over
in the signed session cookie; a copy of the cookie taken before that page
showed the token again, and a bearer token sat in a cookie the browser can
read. The token is now the form's own answer. The form carries a one-use key,
unique here, so that sending the form again (a reload of that answer, a double
click) issues no second token. Tokens from the command line and the REST API
have none.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 02:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('issue_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_api_tokens_issue_key'), ['issue_key'])


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_api_tokens_issue_key'), type_='unique')
        batch_op.drop_column('issue_key')
