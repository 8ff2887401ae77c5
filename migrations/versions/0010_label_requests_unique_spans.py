"""label_requests (idempotency keys of label saves); one span per annotator, label and offsets by a unique index

Retries that count once (issue 16). A label PUT may carry a `request_id`; the
table remembers, per user, each recent one with the answer it got, so a retried
save whose first response was lost is answered again without adding its
seconds twice.

An annotator's duplicate span (same article, label and offsets) was refused by
a check that two tabs could race; a unique index now refuses it. Duplicates
stored before are merged first: the oldest span (lowest id) of each group stays,
the relations of the others are moved onto it (a relation that would then
repeat one it has, or link the span to itself, is dropped), and the others go.
The unique index starts with (article_id, user_id, start), so it replaces
ix_spans_article_user_start.

Revision ID: 0010
Revises: 0009 (article_labels, issue 18)
Create Date: 2026-12-06 03:10:00

"""
import sqlalchemy as sa
from alembic import context, op
from alembic.util import CommandError

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

SPAN_KEY = ('article_id', 'user_id', 'label', 'start', '"end"')
CHUNK = 500


def upgrade():
    if context.is_offline_mode():  # --sql only prints statements: no rows to read, and the script would lack the repair
        raise CommandError("revision 0010 reads the stored spans to merge each annotator's duplicates before its unique index, which an SQL script (--sql) cannot do: "
                           "run `annotator db upgrade` on the database itself (a script may stop at the revision before it)")
    op.create_table(
        'label_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.String(length=64), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('response', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_label_requests_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_label_requests')),
        sa.UniqueConstraint('user_id', 'request_id', name=op.f('uq_label_requests_user_id_request_id')),
    )
    op.create_index('ix_label_requests_user_created', 'label_requests', ['user_id', 'created_at'], unique=False)
    merge_duplicate_spans(op.get_bind())
    op.create_index('uq_spans_article_user_offsets_label', 'spans', ['article_id', 'user_id', 'start', 'end', 'label'], unique=True)
    op.drop_index('ix_spans_article_user_start', table_name='spans')


def downgrade():
    op.create_index('ix_spans_article_user_start', 'spans', ['article_id', 'user_id', 'start'], unique=False)
    op.drop_index('uq_spans_article_user_offsets_label', table_name='spans')
    op.drop_index('ix_label_requests_user_created', table_name='label_requests')
    op.drop_table('label_requests')


def merge_duplicate_spans(conn) -> None:  # noqa: ANN001
    """Each group of one annotator's identical spans becomes its oldest span, which takes over the others' relations."""
    key = ', '.join(SPAN_KEY)
    joined = ' AND '.join(f's.{c} = k.{c}' for c in SPAN_KEY)
    keep = dict(conn.execute(sa.text(
        f'SELECT s.id, k.keep_id FROM spans s JOIN (SELECT {key}, MIN(id) AS keep_id FROM spans GROUP BY {key} HAVING COUNT(*) > 1) k '
        f'ON {joined} WHERE s.id <> k.keep_id'
    )).all())
    if not keep:
        return
    touched = sorted(set(keep) | set(keep.values()))
    relations = {}
    for i in range(0, len(touched), CHUNK):
        chunk = touched[i:i + CHUNK]
        relations.update((row.id, row) for row in conn.execute(
            sa.text('SELECT id, from_span_id, to_span_id, type FROM relations WHERE from_span_id IN :ids OR to_span_id IN :ids')
            .bindparams(sa.bindparam('ids', expanding=True)),
            {'ids': chunk},
        ))
    links = {(r.from_span_id, r.to_span_id, r.type) for r in relations.values() if r.from_span_id not in keep and r.to_span_id not in keep}
    for rel in sorted(relations.values(), key=lambda r: r.id):  # the oldest relation of a merged pair stays
        if rel.from_span_id not in keep and rel.to_span_id not in keep:
            continue
        ends = (keep.get(rel.from_span_id, rel.from_span_id), keep.get(rel.to_span_id, rel.to_span_id), rel.type)
        if ends[0] == ends[1] or ends in links:
            conn.execute(sa.text('DELETE FROM relations WHERE id = :id'), {'id': rel.id})
            continue
        links.add(ends)
        conn.execute(sa.text('UPDATE relations SET from_span_id = :f, to_span_id = :t WHERE id = :id'), {'f': ends[0], 't': ends[1], 'id': rel.id})
    doomed = sorted(keep)
    for i in range(0, len(doomed), CHUNK):
        conn.execute(sa.text('DELETE FROM spans WHERE id IN :ids').bindparams(sa.bindparam('ids', expanding=True)), {'ids': doomed[i:i + CHUNK]})
