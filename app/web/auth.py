"""Log in and out."""

from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app import ratelimits
from app.accounts import service as accounts
from app.accounts.models import User
from app.extensions import db, limiter, login
from app.i18n import N_

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


def safe_next(target: str | None, default: str | None = None) -> str:
    """The target if it is a path on this site, else the default (the home page): an absolute or
    scheme-relative URL would make a redirect after a form an open redirect."""
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not urlsplit(target).netloc):
        return target
    return default or url_for("inbox.home")


def init_app(app: Flask) -> None:
    login.login_view = "auth.login"
    # Flashed in the reader's language (a lazy text could not be kept in the session).
    login.login_message = N_("Please log in to access this page.")
    login.localize_callback = gettext

    @login.user_loader
    def load_user(user_id: str) -> User | None:
        return db.session.get(User, int(user_id))


def _fresh_session() -> None:
    """At every login and logout the session starts afresh: nothing planted before (a CSRF token, a
    session value) carries over. Flask-WTF also caches the token on `g` for the request."""
    session.clear()
    g.pop("csrf_token", None)


def _username_key() -> str:
    """Attempts at one account count together from anywhere, however the name is capitalised."""
    return "user:" + request.form.get("username", "").strip().casefold()[:80]


def _no_username() -> bool:
    return not request.form.get("username", "").strip()


# Every attempt counts, before the password is checked: concurrent guesses cannot slip past the limit.
# A successful login clears its username's count (only whoever knows the password can do that); the
# address keeps its count, or one known account would let an address reset it between guesses.
@bp.route("/login", methods=["GET", "POST"], endpoint="login")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], key_func=_username_key, methods=["POST"],
               exempt_when=_no_username)
@limiter.limit(lambda: current_app.config["LOGIN_ADDRESS_RATE_LIMIT"], key_func=ratelimits.address_key,
               methods=["POST"])
def login_page():
    if current_user.is_authenticated:
        return redirect(url_for("inbox.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.username.data, form.password.data)
        if user is None:
            flash(gettext("Wrong username or password."), "error")
        else:
            ratelimits.forget("user:")
            _fresh_session()
            login_user(user)
            return redirect(safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    _fresh_session()
    return redirect(url_for("auth.login"))
