"""The order desk's CSV import: check a file row by row, then import its valid orders (app/orders/csv_import.py)."""

import base64
import binascii
import csv
import io
import zlib

from flask import Blueprint, Response, current_app, render_template, request, stream_template
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app.accounts.roles import ORDER_DESK
from app.extensions import db
from app.orders import csv_import
from app.orders.csv_import import FileRefused
from app.web import intake
from app.web.access import roles_required

bp = Blueprint("order_import", __name__)

REFUSALS = {
    "too_large": _l("The file is larger than %(limit)s bytes."),
    "too_many_rows": _l("The file has more than %(limit)s rows. Split it into smaller files."),
    "binary": _l("This is not a CSV file: it holds binary data. Save the sheet as “CSV UTF-8” and upload that."),
    "encoding": _l("The file is not UTF-8 text (line %(line)s). Save it as “CSV UTF-8” and upload it again."),
    "empty": _l("The file is empty."),
    "no_rows": _l("The file has a header but no rows."),
    "not_csv": _l("The file cannot be read as CSV (line %(line)s: %(problem)s)."),
    "duplicate_columns": _l("These columns appear more than once: %(columns)s."),
    "missing_columns": _l("Required columns are missing: %(columns)s. The header has: %(found)s."),
    "no_file": _l("Choose a CSV file."),
    "lost": _l("The checked file could not be read back. Choose it again."),
    "bad_form": _l("Choose how the orders were received, then press Check or Import."),
}


def _limits() -> tuple[int, int]:
    return current_app.config["ORDER_IMPORT_MAX_BYTES"], current_app.config["ORDER_IMPORT_MAX_ROWS"]


def _words(value):
    if isinstance(value, list):
        return ", ".join(value) or gettext("nothing")
    return f"{value:,}" if isinstance(value, int) else value


def _refused(reason: str, status: int = 400, channel: str = "", **details):
    """The upload page again, saying why the file was not taken; nothing was written."""
    refusal = REFUSALS[reason] % {key: _words(value) for key, value in details.items()}
    return _upload_page(refusal, channel), status


def _upload_page(refusal: str | None, channel: str) -> str:
    max_bytes, max_rows = _limits()
    return render_template("intake/import.html", refusal=refusal, channel=channel, max_bytes=max_bytes,
                           max_rows=max_rows, channels=intake.STAFF_CHANNELS, columns=csv_import.COLUMNS,
                           required=csv_import.REQUIRED)


def _pack(content: bytes) -> str:
    """The checked file, carried in the check page's form to the import (the server keeps no uploads)."""
    return base64.urlsafe_b64encode(zlib.compress(content, 6)).decode("ascii")


def _unpack(packed: str, limit: int) -> bytes:
    """At most limit + 1 bytes come out, whatever went in: the size check after this still sees too much."""
    try:
        return zlib.decompressobj().decompress(base64.urlsafe_b64decode(packed.encode("ascii")), limit + 1)
    except (binascii.Error, zlib.error, UnicodeEncodeError, ValueError):
        raise FileRefused("lost") from None


@bp.route("/orders/import")
@roles_required(ORDER_DESK)
def form():
    return _upload_page(None, "phone")


@bp.route("/orders/import/template.csv")
@roles_required(ORDER_DESK)
def template():
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(csv_import.template_rows())
    # The byte-order mark makes spreadsheet programs read the file as UTF-8.
    return Response("\ufeff" + text.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="orders-import-template.csv"'})


@bp.route("/orders/import", methods=["POST"])
@roles_required(ORDER_DESK)
def check_or_import():
    max_bytes, max_rows = _limits()
    # The file, or its packed copy from the check page, and the form around it.
    request.max_content_length = max_bytes * 2 + 64 * 1024
    if (request.content_length or 0) > request.max_content_length:
        return _refused("too_large", 413, limit=max_bytes)
    try:
        upload_file, packed = request.files.get("file"), request.form.get("content", "")
    except RequestEntityTooLarge:
        return _refused("too_large", 413, limit=max_bytes)
    channel, action = request.form.get("channel", ""), request.form.get("action", "")
    if channel not in csv_import.STAFF_CHANNELS or action not in ("check", "import"):
        return _refused("bad_form")
    try:
        if upload_file is not None and upload_file.filename:
            content, filename = upload_file.read(max_bytes + 1), upload_file.filename
        elif packed:
            content, filename = _unpack(packed, max_bytes), request.form.get("filename", "")
        else:
            raise FileRefused("no_file")
        upload = csv_import.read(content, default_channel=channel, max_bytes=max_bytes, max_rows=max_rows)
    except FileRefused as refused:
        return _refused(refused.reason, 413 if refused.too_large else 400, channel, **refused.details)
    filename = filename[:200]
    if action == "check":
        csv_import.check(upload)
        return render_template("intake/import_check.html", upload=upload, filename=filename, channel=channel,
                               packed=_pack(content))
    run = {"stopped": False}
    return Response(stream_template("intake/import_result.html", upload=upload, filename=filename, run=run,
                                    progress=_guarded(csv_import.import_orders(
                                        upload, entered_by=current_user.username), run)))


def _guarded(progress, run: dict):
    """The import page is already on its way when an order fails unexpectedly: the page says where it
    stopped instead of breaking off. Each order is its own unit of work, so what is listed stays imported."""
    try:
        yield from progress
    except Exception:
        db.session.rollback()
        current_app.logger.exception("the order import stopped")
        run["stopped"] = True
