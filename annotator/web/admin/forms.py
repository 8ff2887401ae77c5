"""The admin pages' forms: Flask-WTF, so every POST carries a CSRF token and is validated on the server."""
from __future__ import annotations

import re

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms import FloatField as _FloatField
from wtforms import IntegerField as _IntegerField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from annotator.db.models import ROLES
from annotator.domain import accounts, guidelines, label_rename, labelschema, projects
from annotator.domain.dataset.articles import ON_DUPLICATE
from annotator.stats.textcheck import MAX_DB_INT

try:  # WTForms 3.3 deprecates (value, label) tuples in favour of SelectChoice; older versions only have tuples
    from wtforms.fields.choices import SelectChoice as choice
except ImportError:  # pragma: no cover

    def choice(value, label):  # type: ignore[no-redef]  # noqa: ANN001, ANN201
        return (value, label)


MAX_ANNOTATORS_PER_ARTICLE = projects.MAX_ANNOTATORS_PER_ARTICLE
SCHEMA_SOURCES = [choice("preset", "A preset"), choice("paste", "Paste JSON"), choice("upload", "Upload a JSON file")]
KEEP_SCHEMA = choice("keep", "Keep the current schema")
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")  # [0-9], not \d: \d and int() take other scripts' digits too


_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


class _AsciiNumber:
    """What WTForms' number fields share here: the digits 0-9 only (int() and float() read "١" as 1, "1_0" as 10,
    "nan"), with one error line: a value that could not be read has its one reason, and the validators add no second
    (NumberRange of None); an empty one is left to Optional."""

    written: re.Pattern[str]
    refusal: str

    def _refuse_other_digits(self, valuelist: list) -> None:
        raw = valuelist[0].strip() if valuelist and isinstance(valuelist[0], str) else ""
        if raw and not self.written.fullmatch(raw):
            self.data = None
            raise ValueError(self.refusal)

    def pre_validate(self, form: FlaskForm) -> None:
        if self.process_errors and self.raw_data and str(self.raw_data[0]).strip():  # type: ignore[attr-defined]
            raise StopValidation()


class IntegerField(_AsciiNumber, _IntegerField):
    """WTForms' IntegerField with ASCII digits only, refusing numbers no column holds (NumberRange's isnan() of
    10**400 was an OverflowError: 500) with the field's range."""

    written, refusal = _WHOLE_NUMBER, "must be a whole number written with the digits 0-9"

    def process_formdata(self, valuelist: list) -> None:
        self._refuse_other_digits(valuelist)
        super().process_formdata(valuelist)
        if self.data is not None and not -MAX_DB_INT <= self.data <= MAX_DB_INT:
            self.data = None
            low, high = next(((v.min, v.max) for v in self.validators if isinstance(v, NumberRange)), (None, None))
            low, high = -MAX_DB_INT if low is None else low, MAX_DB_INT if high is None else high
            raise ValueError(f"Number must be between {low} and {high}.")  # NumberRange's words, as for a smaller number out of range


class FloatField(_AsciiNumber, _FloatField):
    """WTForms' FloatField with the digits 0-9 and a point only (float() read ARABIC-INDIC "٠.٧" as 0.7, "0.7_5" as 0.75)."""

    written, refusal = _DECIMAL, "must be a number written with the digits 0-9 and a point"

    def process_formdata(self, valuelist: list) -> None:
        self._refuse_other_digits(valuelist)
        super().process_formdata(valuelist)


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""


def _majority(form: FlaskForm, field: FloatField) -> None:
    if field.data is not None and not 0.5 < field.data <= 1:
        raise ValidationError("must be above 0.5 and at most 1 (1 = unanimous only; 0.66 = two of three)")


class ProjectForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    schema_source = RadioField("Label schema", choices=SCHEMA_SOURCES, default="preset")
    preset = SelectField("Preset", choices=[choice(name, name) for name in labelschema.PRESET_NAMES], default=labelschema.DEFAULT_PRESET)
    schema_json = TextAreaField("Schema JSON", validators=[Length(max=200_000)])
    schema_file = FileField("Schema file (.json)")
    annotators_per_article = IntegerField(
        "Annotators per article", default=2, validators=[InputRequired(), NumberRange(min=1, max=MAX_ANNOTATORS_PER_ARTICLE)]
    )
    majority_threshold = FloatField("Majority for automatic gold", default=1.0, validators=[InputRequired(), _majority])

    def validate_schema_json(self, field: TextAreaField) -> None:
        if self.schema_source.data == "paste" and not (field.data or "").strip():
            raise ValidationError("paste the schema JSON here, or choose another source")

    def validate_schema_file(self, field: FileField) -> None:
        if self.schema_source.data == "upload" and not (field.data and getattr(field.data, "filename", "")):
            raise ValidationError("choose a .json file, or another source")


class EditProjectForm(ProjectForm):
    # "Edit as JSON": the paste box opens on the current schema here
    schema_source = RadioField("Label schema", choices=[KEEP_SCHEMA, SCHEMA_SOURCES[0], choice("paste", "Edit as JSON"), SCHEMA_SOURCES[2]], default="keep")
    # Off by default: an unassisted, blind study stays possible; on, annotators see what suggesters proposed.
    suggestions_enabled = BooleanField("Show suggestions to annotators")


class RenameLabelForm(FlaskForm):
    """Rename one label of a project's schema (domain/label_rename.py); the view lists the schema's labels as choices,
    each "section/name" (a name holds no '/'), and the values of its article label groups, each "values section/group/value"
    (a group's name holds no '/', a value may)."""

    label = SelectField("Label", choices=[])
    new_name = StringField("New name", validators=[Length(max=200)])

    def set_choices(self, schema: dict) -> None:
        self.label.choices = [
            choice(f"{section}/{name}", f"{what}: {name}")
            for section, what in label_rename.WHAT.items()
            for name in labelschema.names(schema, section)
        ] + [
            choice(f"{label_rename.VALUES}/{group}/{value}", f"article label value: {group}: {value}")
            for group, item in labelschema.article_groups(schema).items()
            for value in item["values"]
        ]

    def chosen(self) -> tuple[str, str | None, str]:
        """(section, group or None, old name) of the chosen label."""
        section, _, old = self.label.data.partition("/")
        if section == label_rename.VALUES:
            group, _, value = old.partition("/")
            return section, group, value
        return section, None, old


class GuidelinesForm(FlaskForm):
    text = TextAreaField("Guidelines (Markdown)")
    base_version = HiddenField()  # the version the editor started from: a save over a newer one is refused

    def validate_text(self, field: TextAreaField) -> None:
        reason = guidelines.too_long(field.data or "")
        if reason:
            raise ValidationError(reason)


def _password_length(form: FlaskForm, field: PasswordField) -> None:
    """A new password's length, said in the app's words (WTForms' Length said "Field must be between 8 and 1024
    characters long.")."""
    reason = accounts.password_length_problem(field.data or "")
    if reason:
        raise ValidationError(reason)


class UserCreateForm(FlaskForm):
    name = StringField("User name", validators=[DataRequired(), Length(max=80)])
    role = SelectField("Role", choices=[choice(r, r) for r in ROLES], default="annotator")
    password = PasswordField("Password", validators=[DataRequired(), _password_length])

    def validate_name(self, field: StringField) -> None:
        try:
            accounts.check_name((field.data or "").strip())
        except accounts.AccountError as exc:
            raise ValidationError(str(exc)) from None


class PasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), _password_length])


class TokenForm(FlaskForm):
    expires_days = IntegerField(
        "Expires after (days)", validators=[Optional(), NumberRange(min=1, max=accounts.MAX_TOKEN_DAYS)]
    )
    # accounts.new_issue_key(): the page's form is good for one token (a reload of the answer issues none).
    issue_key = HiddenField(validators=[InputRequired("The form has no issue key: open the user's page again."),
                                        Regexp(r"^[A-Za-z0-9_-]{32}$", message="The form's issue key is not one this app made: open the user's page again.")])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[choice(r, r) for r in ROLES])


class UploadForm(FlaskForm):
    files = MultipleFileField("Files (.jsonl, .csv, .txt)")
    on_duplicate = SelectField(
        "When an article id is already in the project",
        choices=[
            choice("error", "reject the file"),
            choice("skip", "skip that article"),
            choice("update", "update title and meta (and text, if unannotated)"),
        ],
        default="error",
    )
    suggest = BooleanField("Compute suggestions for these articles")

    def validate_files(self, field: MultipleFileField) -> None:
        if not [f for f in field.data or [] if getattr(f, "filename", "")]:
            raise ValidationError("choose at least one file")

    def validate_on_duplicate(self, field: SelectField) -> None:
        if field.data not in ON_DUPLICATE:
            raise ValidationError("not a valid choice")


class BalanceForm(FlaskForm):
    per_article = IntegerField("Annotators per article", validators=[InputRequired(), NumberRange(min=1, max=MAX_ANNOTATORS_PER_ARTICLE)])


class ArticleAnnotatorsForm(FlaskForm):
    annotators = SelectMultipleField("Annotators", coerce=int, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())


class MembersForm(FlaskForm):
    users = SelectMultipleField("Add to the project", coerce=int, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())

    def validate_users(self, field: SelectMultipleField) -> None:
        if not field.data and not field.choices:  # the page offers no Add then; a form sent anyway
            raise ValidationError("Nobody can be added: every annotator and reviewer is a member already.")
        if not field.data:
            raise ValidationError("Tick at least one person to add, then press Add.")


# An id or offset a database column can hold: a larger number (10**30) is a form error, not a database one.
_DB_ID = NumberRange(min=0, max=MAX_DB_INT, message="not a known id")


class SplitForm(FlaskForm):
    sentence_id = IntegerField(validators=[InputRequired(), _DB_ID])
    position = IntegerField("Split before character", validators=[InputRequired(), NumberRange(min=1, max=MAX_DB_INT)])


class MergeForm(FlaskForm):
    sentence_id = IntegerField(validators=[InputRequired(), _DB_ID])
