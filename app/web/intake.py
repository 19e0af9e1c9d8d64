"""The order desk enters orders that arrive by phone, fax, e-mail or through a sales representative."""

from flask import Blueprint, flash, redirect, render_template
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    Form,
    FormField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.accounts.roles import ORDER_DESK
from app.customers.models import Customer
from app.extensions import db
from app.orders import csv_import, intake
from app.orders.models import CHANNELS, PAYMENT_METHODS
from app.orders.service import MAX_TEXT, LineInput, OrderError
from app.web.access import roles_required

bp = Blueprint("intake", __name__)

MAX_ROWS = 10
MAX_REFERENCE = 200
LABELS = {"phone": _l("Phone"), "fax": _l("Fax"), "email": _l("E-mail"), "sales_rep": _l("Sales representative"),
          "credit": _l("On credit"), "prepayment": _l("Prepayment"), "cash_on_delivery": _l("Cash on delivery")}
# Online-shop orders ("web") come through the API, recorded with the API client's channel.
STAFF_CHANNELS = [SelectChoice(c, LABELS.get(c, c)) for c in csv_import.STAFF_CHANNELS if c in CHANNELS]
PAYMENT_CHOICES = [SelectChoice(m, LABELS.get(m, m)) for m in PAYMENT_METHODS]


class LineForm(Form):
    """One order line; a row left entirely empty is ignored."""

    sku = StringField(_l("SKU"), validators=[Length(max=40)])
    quantity = StringField(_l("Quantity"), validators=[Length(max=20)])
    unit_price = StringField(_l("Unit price"), validators=[Length(max=20)])
    spec = StringField(_l("Specification"), validators=[Length(max=MAX_TEXT)])

    @property
    def blank(self) -> bool:
        return not any((field.data or "").strip() for field in (self.sku, self.quantity, self.unit_price, self.spec))

    def validate_sku(self, field):
        if not self.blank and not (field.data or "").strip():
            raise ValidationError(gettext("Enter a SKU."))

    def validate_quantity(self, field):
        if not self.blank and not (field.data or "").strip():
            raise ValidationError(gettext("Enter a quantity."))


class OrderForm(FlaskForm):
    customer = SelectField(_l("Customer"), validators=[DataRequired(message=_l("Choose the customer."))])
    channel = SelectField(_l("Received by"), choices=STAFF_CHANNELS)
    # The order has no column for it: the reference becomes the first line of the remarks.
    reference = StringField(_l("Reference"), validators=[Length(max=MAX_REFERENCE)],
                            description=_l("Fax number, e-mail subject, sales representative or the customer's "
                                           "order number"))
    requested_date = DateField(_l("Requested delivery date"), validators=[Optional()])
    payment_method = SelectField(_l("Payment"), choices=PAYMENT_CHOICES)
    allow_partial = BooleanField(_l("Partial delivery allowed"))
    remarks = TextAreaField(_l("Remarks"), validators=[Length(max=MAX_TEXT)])
    shipping_address = TextAreaField(_l("Ship to (leave empty for the customer's address)"),
                                     validators=[Length(max=MAX_TEXT)])

    @property
    def rows(self) -> list[LineForm]:
        return [getattr(self, f"line_{index}").form for index in range(MAX_ROWS)]

    def filled_rows(self) -> list[LineForm]:
        return [row for row in self.rows if not row.blank]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not self.filled_rows():
            self.form_errors.append(gettext("Enter at least one line."))
            valid = False
        return valid

    def order_input(self) -> dict:
        """The keyword arguments of intake.place_order, from validated data."""
        return {
            "customer_code": self.customer.data,
            "channel": self.channel.data,
            "lines": [LineInput(sku=row.sku.data.strip(), quantity=row.quantity.data.strip(),
                                unit_price=(row.unit_price.data or "").strip() or None,
                                spec=(row.spec.data or "").strip()) for row in self.filled_rows()],
            "requested_date": self.requested_date.data,
            "payment_method": self.payment_method.data,
            "allow_partial": self.allow_partial.data,
            "remarks": self.remarks_with_reference(),
            "shipping_address": (self.shipping_address.data or "").strip() or None,
        }

    def remarks_with_reference(self) -> str:
        reference, remarks = (self.reference.data or "").strip(), (self.remarks.data or "").strip()
        if not reference:
            return remarks
        return f"Reference: {reference}" + (f"\n{remarks}" if remarks else "")

    def show_errors(self, errors: dict[str, str]) -> list[str]:
        """Put the order's field errors (`lines.2.quantity` is the second filled row) next to their
        fields; returns the ones that belong to no single field."""
        rows, general = self.filled_rows(), []
        for key, message in errors.items():
            parts = key.split(".")
            name = {"customer_code": "customer"}.get(parts[0], parts[0])
            if name == "lines" and len(parts) == 3 and parts[1].isdigit() and 0 < int(parts[1]) <= len(rows):
                field = getattr(rows[int(parts[1]) - 1], parts[2], None)
            elif name != "lines" and len(parts) == 1:
                field = getattr(self, name, None)
            else:
                field = None
            if field is None:
                general.append(message if name != "lines" else gettext("Lines: %(message)s", message=message))
            else:
                field.errors = [*field.errors, message]
        return general


# Fixed rows that keep their places: line_0 … line_9 (WTForms' FieldList renumbers the posted rows and
# then re-reads the form data for its padding rows, which duplicates a row that follows an empty one).
for _index in range(MAX_ROWS):
    setattr(OrderForm, f"line_{_index}", FormField(LineForm, label=_l("Line %(number)s", number=_index + 1)))


def _order_form() -> OrderForm:
    form = OrderForm()
    customers = db.session.scalars(select(Customer).order_by(Customer.name)).all()
    form.customer.choices = [SelectChoice("", gettext("— choose —"))] + [
        SelectChoice(c.code, f"{c.name} ({c.code})") for c in customers]
    return form


@bp.route("/orders/new", methods=["GET", "POST"])
@roles_required(ORDER_DESK)
def new_order():
    form = _order_form()
    problems: list[str] = []
    if form.validate_on_submit():
        try:
            order = intake.place_order(**form.order_input(), entered_by=current_user.username)
        except OrderError as error:
            problems = form.show_errors(error.errors)
        else:
            flash(gettext("Order %(number)s was entered.", number=order.number), "success")
            # The order page (app/web/orders.py) owns this path; a plain path keeps us off its endpoint name.
            return redirect(f"/orders/{order.number}")
    refused = form.is_submitted()
    page = render_template("intake/new.html", form=form, problems=[*form.form_errors, *problems], refused=refused)
    return page, 422 if refused else 200
