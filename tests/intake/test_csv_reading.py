"""app.orders.csv_import.read: the file becomes rows grouped into orders, or is refused as a whole."""

import pytest

from app.orders.csv_import import FileRefused, read
from tests.intake.conftest import HEADER, csv_file, line


def upload(content: bytes, **limits):
    return read(content, default_channel=limits.pop("channel", "phone"), max_bytes=limits.pop("max_bytes", 10_000),
                max_rows=limits.pop("max_rows", 100))


def refusal(content: bytes, **limits) -> FileRefused:
    with pytest.raises(FileRefused) as refused:
        upload(content, **limits)
    return refused.value


def rows(result) -> list[tuple[int, str, dict]]:
    return [(row.number, order.ref, row.errors) for row, order in result.rows]


# The file's form --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bom", [False, True])
def test_utf8_with_or_without_byte_order_mark(bom):
    result = upload(csv_file(line(remarks="Lieferung nach Köln, 北京"), bom=bom))
    (order,) = result.orders
    assert order.value("remarks") == "Lieferung nach Köln, 北京"
    assert result.columns[0] == "order_ref"  # the mark is not part of the first column's name


def test_semicolons_are_detected_and_a_decimal_comma_is_read_as_a_point():
    result = upload(csv_file(line(unit_price="2,45"), line(sku="VALVE-2", unit_price="1,000"), delimiter=";"))
    assert result.delimiter == ";"
    assert [row.values["unit_price"] for row in result.orders[0].rows] == ["2.45", "1,000"]  # never 1.000


def test_commas_are_the_default_and_a_comma_in_a_comma_file_stays():
    result = upload(csv_file(line(unit_price="2,45")))
    assert result.delimiter == "," and result.orders[0].rows[0].values["unit_price"] == "2,45"


def test_quoted_fields_keep_commas_semicolons_quotes_and_line_breaks():
    address = 'Gate 4, "rear entrance"\n1 Harbour Road; Dock 2'
    result = upload(csv_file(line(shipping_address=address), line("PO-2")))
    assert result.orders[0].value("shipping_address") == address
    # Rows are numbered as a spreadsheet shows them: the record, not the physical line.
    assert [(row.number, order.ref) for row, order in result.rows] == [(2, "PO-1"), (3, "PO-2")]


def test_header_names_are_read_in_any_case_and_spacing():
    header = ["Order Ref", "CUSTOMER_CODE", " Sku ", "Quantity", "Requested-Date"]
    result = upload(csv_file(["PO-1", "GOOD", "BOLT-M8", "3", "2026-04-01"], header=header))
    (row, _), = result.rows
    assert (row.values["order_ref"], row.values["sku"], row.values["requested_date"]) == (
        "PO-1", "BOLT-M8", "2026-04-01")
    assert row.errors == {}


def test_blank_lines_before_the_header_and_between_rows_are_skipped_but_counted():
    result = upload(b"\r\n,,\r\n" + csv_file(line(), line("PO-2")).replace(b"\r\nPO-2", b"\r\n\r\nPO-2"))
    assert [(row.number, order.ref) for row, order in result.rows] == [(4, "PO-1"), (6, "PO-2")]


def test_unknown_columns_are_reported_and_ignored():
    result = upload(csv_file(["PO-1", "GOOD", "BOLT-M8", "3", "blue"],
                             header=["order_ref", "customer_code", "sku", "quantity", "Colour"]))
    assert result.unknown_columns == ["colour"]
    assert result.rows[0][0].errors == {}


def test_missing_required_columns_refuse_the_whole_file_with_their_list():
    refused = refusal(csv_file(["GOOD", "BOLT-M8"], header=["customer_code", "sku"]))
    assert refused.reason == "missing_columns" and not refused.too_large
    assert refused.details == {"columns": ["order_ref", "quantity"], "found": ["customer_code", "sku"]}


def test_a_column_named_twice_refuses_the_file():
    refused = refusal(csv_file(["PO-1", "GOOD", "BOLT-M8", "3", "4"],
                               header=["order_ref", "customer_code", "sku", "quantity", "Quantity"]))
    assert (refused.reason, refused.details) == ("duplicate_columns", {"columns": ["quantity"]})


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "empty"),
    (b"  \r\n\r\n", "empty"),
    (b"\xef\xbb\xbf", "empty"),
    (",".join(HEADER).encode() + b"\r\n", "no_rows"),
    (",".join(HEADER).encode() + b"\r\n,,,,\r\n\r\n", "no_rows"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    (b"PK\x03\x04\x14\x00\x06\x00", "binary"),  # a spreadsheet (.xlsx) instead of its CSV
    (b'order_ref,customer_code,sku,quantity\r\nPO-1,GOOD,"BOLT-M8,3\r\n', "not_csv"),
    (b'order_ref,customer_code,sku,quantity\r\nPO-1,GOOD,"BOLT"M8,3\r\n', "not_csv"),
])
def test_files_that_are_no_csv_orders_are_refused(content, reason):
    refused = refusal(content)
    assert refused.reason == reason and not refused.too_large


def test_a_file_in_another_encoding_is_refused_naming_the_line():
    content = csv_file(line(), line("PO-2")).decode().replace("PO-2", "PO-2 Köln").encode("latin-1")
    refused = refusal(content)
    assert (refused.reason, refused.details) == ("encoding", {"line": 3})


def test_a_csv_error_names_its_line():
    refused = refusal(b'order_ref,customer_code,sku,quantity\r\nPO-1,GOOD,BOLT-M8,3\r\nPO-2,GOOD,"BOLT"M8,3\r\n')
    assert refused.details["line"] == 3 and "expected after" in refused.details["problem"]


def test_too_many_bytes_or_rows_are_refused_as_too_large():
    content = csv_file(line(), line("PO-2"), line("PO-3"))
    refused = refusal(content, max_bytes=len(content) - 1)
    assert (refused.reason, refused.too_large, refused.details) == ("too_large", True, {"limit": len(content) - 1})
    assert len(upload(content, max_bytes=len(content)).orders) == 3
    refused = refusal(content, max_rows=2)
    assert (refused.reason, refused.too_large, refused.details) == ("too_many_rows", True, {"limit": 2})
    assert len(upload(content + b"\r\n,,\r\n", max_rows=3).orders) == 3  # blank lines are not rows


# Rows and orders --------------------------------------------------------------------------------------------


def test_rows_with_the_same_customer_and_ref_are_one_order():
    result = upload(csv_file(line(), line("PO-2"), line(sku="VALVE-2"), line(customer="ACME")))
    assert [(order.customer_code, order.ref, [row.number for row in order.rows]) for order in result.orders] == [
        ("GOOD", "PO-1", [2, 4]), ("GOOD", "PO-2", [3]), ("ACME", "PO-1", [5])]


def test_later_rows_may_leave_the_orders_fields_empty_or_repeat_them():
    result = upload(csv_file(line(channel="Fax", remarks="urgent", payment_method="Prepayment"),
                             line(sku="VALVE-2", channel="fax", requested_date="", remarks="urgent")))
    (order,) = result.orders
    assert all(not row.errors for row in order.rows)
    assert (order.value("channel"), order.value("requested_date"), order.value("payment_method")) == (
        "fax", "2026-04-01", "prepayment")


def test_a_later_row_may_not_contradict_the_order():
    result = upload(csv_file(line(channel="fax"), line(sku="VALVE-2", channel="email", requested_date="2026-05-01")))
    assert rows(result) == [(2, "PO-1", {}), (3, "PO-1", {
        "channel": "differs from row 2 of order PO-1 ('fax')",
        "requested_date": "differs from row 2 of order PO-1 ('2026-04-01')"})]
    assert result.orders[0].outcome == "refused"


def test_the_default_channel_is_for_orders_that_name_none():
    result = upload(csv_file(line(), line("PO-2", channel="email")), channel="sales_rep")
    assert [order.value("channel") for order in result.orders] == ["sales_rep", "email"]


def test_the_default_channel_must_be_a_staff_channel():
    with pytest.raises(ValueError, match="default channel"):
        upload(csv_file(line()), channel="web")


@pytest.mark.parametrize(("changes", "errors"), [
    ({"order_ref": ""}, {"order_ref": "required"}),
    ({"customer_code": "", "sku": " ", "quantity": ""},
     {"customer_code": "required", "sku": "required", "quantity": "required"}),
    ({"order_ref": "PO-[1]"}, {"order_ref": "at most 40 characters, without brackets or control characters"}),
    ({"order_ref": "R" * 41}, {"order_ref": "at most 40 characters, without brackets or control characters"}),
    ({"channel": "web"}, {"channel": "'web' is not one of phone, fax, email, sales_rep"}),
    ({"channel": "pigeon"}, {"channel": "'pigeon' is not one of phone, fax, email, sales_rep"}),
])
def test_row_errors_name_their_column(changes, errors):
    result = upload(csv_file(line(**changes)))
    assert rows(result)[0][2] == errors
    assert result.orders[0].outcome == "refused"


def test_values_past_the_header_are_an_error_but_empty_trailing_cells_are_not():
    result = upload(csv_file(["PO-1", "GOOD", "BOLT-M8", "3", "", ""], ["PO-2", "GOOD", "BOLT-M8", "3", "x"],
                             header=["order_ref", "customer_code", "sku", "quantity"]))
    assert rows(result) == [(2, "PO-1", {}), (3, "PO-2", {"row": "has 5 values but the header names 4 columns"})]


def test_a_row_without_a_ref_is_refused_on_its_own():
    result = upload(csv_file(line(ref=""), line(ref=""), line()))
    assert [(order.ref, [row.number for row in order.rows]) for order in result.orders] == [
        ("", [2]), ("", [3]), ("PO-1", [4])]
