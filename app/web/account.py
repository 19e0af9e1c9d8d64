"""The logged-in user's own account: who they are, and the language they read Orderly in."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField

from app.accounts import service as accounts
from app.extensions import db
from app.i18n import LANGUAGES

bp = Blueprint("account", __name__)


class LanguageForm(FlaskForm):
    # Each language is named in itself, so whoever reads it can find their own.
    locale = SelectField(_l("Language"), choices=[SelectChoice(code, name) for code, name in LANGUAGES.items()])


@bp.route("/account", methods=["GET", "POST"])
@login_required
def index():
    form = LanguageForm(locale=current_user.locale)
    if form.validate_on_submit():
        accounts.set_locale(current_user, form.locale.data)
        db.session.commit()
        with force_locale(form.locale.data):
            flash(gettext("Orderly is now shown in %(language)s.", language=LANGUAGES[form.locale.data]), "success")
        return redirect(url_for("account.index"))
    page = render_template("account/index.html", form=form)
    return page, 400 if form.is_submitted() else 200
