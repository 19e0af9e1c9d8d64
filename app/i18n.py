"""The interface in English and Simplified Chinese (Flask-Babel), chosen per user.

A logged-in user reads the language chosen on their account page (`User.locale`); anybody else the
best match of the browser's Accept-Language; English when nothing matches. The catalog is
`app/translations/zh/LC_MESSAGES/messages.po` (`make translations` re-extracts it, `make` compiles it).

Texts that come from files — the names and instructions of user tasks in workflows/*.bpmn, the labels
of forms/*.json — are translated when shown (`translate`, the `translate` template filter);
`app/i18n_extract.py` collects them for the catalog. Values that enter a process are never translated.
"""

from flask import Flask, has_request_context, request
from flask_babel import get_locale, gettext, refresh
from flask_login import current_user

from app.extensions import babel

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT = "en"
# <html lang> per locale: the Chinese catalog is written in Simplified Chinese.
HTML_LANG = {"en": "en", "zh": "zh-Hans"}


def N_(text: str) -> str:
    """Marks a text for the catalog where it is defined; whoever shows it translates it then."""
    return text


def select_locale() -> str:
    """The logged-in user's language, else the browser's best match, else English."""
    if not has_request_context():
        return DEFAULT
    if current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT)


def current() -> str:
    """The code of the language this request is shown in."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT


def html_lang() -> str:
    return HTML_LANG[current()]


def translate(text: str | None) -> str | None:
    """A text from a file (a task name, a form label) in the reader's language; unchanged if the
    catalog does not have it."""
    return gettext(text) if text else text


def init_app(app: Flask) -> None:
    babel.init_app(app, default_locale=DEFAULT, locale_selector=select_locale)
    # Flask-Babel remembers the locale on `g`, which lives as long as the app context: a context that
    # spans several requests (a test, a CLI command) must still choose afresh for each request.
    app.before_request(refresh)
    app.jinja_env.globals.update(html_lang=html_lang, LANGUAGES=LANGUAGES)
    app.jinja_env.filters["translate"] = translate
