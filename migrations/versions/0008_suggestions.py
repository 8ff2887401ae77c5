"""suggestions: proposed labels, spans and links, each annotator's decisions, origins, trained suggester models

Assisted annotation (issue 15). A suggestion belongs to an article and is no
one's annotation; an annotator's accept or reject is a row of their own in
suggestion_decisions. Labels, spans and relations gain `origin` ("manual",
the default for everything stored before, or "suggested") with the
suggester's name and version. Projects gain `suggestions_enabled` (off by
default: a study stays blind and unassisted until an admin turns it on).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 23:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

ORIGIN_TABLES = ('annotations', 'spans', 'relations')


def upgrade():
    with op.batch_alter_table('projects') as batch:
        batch.add_column(sa.Column('suggestions_enabled', sa.Boolean(), server_default='0', nullable=False))
    for table in ORIGIN_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('origin', sa.String(length=16), server_default='manual', nullable=False))
            batch.add_column(sa.Column('suggester', sa.String(length=100), nullable=True))
            batch.add_column(sa.Column('suggester_version', sa.String(length=64), nullable=True))
    op.create_table(
        'suggestions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uid', sa.String(length=64), nullable=False),
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('suggester', sa.String(length=100), nullable=False),
        sa.Column('version', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('label', sa.String(length=64), nullable=False),
        sa.Column('sentence_id', sa.Integer(), nullable=True),
        sa.Column('start', sa.Integer(), nullable=True),
        sa.Column('end', sa.Integer(), nullable=True),
        sa.Column('from_uid', sa.String(length=64), nullable=True),
        sa.Column('to_uid', sa.String(length=64), nullable=True),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('label', 'span', 'relation')", name=op.f('ck_suggestions_kind')),
        sa.CheckConstraint('score >= 0 AND score <= 1', name=op.f('ck_suggestions_score')),
        sa.CheckConstraint("kind <> 'span' OR (start IS NOT NULL AND 0 <= start AND start < \"end\")", name=op.f('ck_suggestions_span_offsets')),
        sa.CheckConstraint("kind <> 'label' OR sentence_id IS NOT NULL", name=op.f('ck_suggestions_label_sentence')),
        sa.CheckConstraint("kind <> 'relation' OR (from_uid IS NOT NULL AND to_uid IS NOT NULL)", name=op.f('ck_suggestions_relation_ends')),
        sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_suggestions_article_id_articles'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['sentence_id'], ['sentences.id'], name=op.f('fk_suggestions_sentence_id_sentences'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_suggestions')),
        sa.UniqueConstraint('article_id', 'uid', name=op.f('uq_suggestions_article_id_uid')),
    )
    op.create_index(op.f('ix_suggestions_article_id'), 'suggestions', ['article_id'], unique=False)
    op.create_index(op.f('ix_suggestions_sentence_id'), 'suggestions', ['sentence_id'], unique=False)
    op.create_table(
        'suggestion_decisions',
        sa.Column('suggestion_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('decision', sa.String(length=16), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("decision IN ('accepted', 'rejected')", name=op.f('ck_suggestion_decisions_decision')),
        sa.ForeignKeyConstraint(['suggestion_id'], ['suggestions.id'], name=op.f('fk_suggestion_decisions_suggestion_id_suggestions'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_suggestion_decisions_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('suggestion_id', 'user_id', name=op.f('pk_suggestion_decisions')),
    )
    op.create_index(op.f('ix_suggestion_decisions_user_id'), 'suggestion_decisions', ['user_id'], unique=False)
    op.create_table(
        'suggester_models',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('version', sa.String(length=64), nullable=False),
        sa.Column('document', sa.JSON(), nullable=False),
        sa.Column('metrics', sa.JSON(), nullable=False),
        sa.Column('trained_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_suggester_models_project_id_projects'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_suggester_models')),
        sa.UniqueConstraint('project_id', 'name', 'version', name=op.f('uq_suggester_models_project_id_name_version')),
    )
    op.create_index(op.f('ix_suggester_models_project_id'), 'suggester_models', ['project_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_suggester_models_project_id'), table_name='suggester_models')
    op.drop_table('suggester_models')
    op.drop_index(op.f('ix_suggestion_decisions_user_id'), table_name='suggestion_decisions')
    op.drop_table('suggestion_decisions')
    op.drop_index(op.f('ix_suggestions_sentence_id'), table_name='suggestions')
    op.drop_index(op.f('ix_suggestions_article_id'), table_name='suggestions')
    op.drop_table('suggestions')
    for table in reversed(ORIGIN_TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('suggester_version')
            batch.drop_column('suggester')
            batch.drop_column('origin')
    with op.batch_alter_table('projects') as batch:
        batch.drop_column('suggestions_enabled')
