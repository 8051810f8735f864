"""lookup_products, check_inventory and calculate_pricing."""

from __future__ import annotations

import pytest

from tools.sales import calculate_pricing, check_inventory, lookup_products


def product_ids(result: dict) -> list[str]:
    return [product["product_id"] for product in result["products"]]


def test_no_arguments_lists_the_whole_catalogue() -> None:
    assert len(lookup_products()["products"]) == 15


def test_category_lists_only_that_category() -> None:
    result = lookup_products(category="phones")
    assert product_ids(result) == ["PROD-002", "PROD-005", "PROD-006"]
    assert result["products"][0] == {
        "product_id": "PROD-002",
        "name": "TechCorp Phone X",
        "category": "phones",
        "price": 899.0,
        "description": "Flagship 6.1-inch phone with a triple camera and 5G.",
        "in_stock": False,
    }


def test_products_matching_more_words_come_first() -> None:
    assert product_ids(lookup_products("ultrabook laptop"))[0] == "PROD-001"
    assert product_ids(lookup_products("mesh wifi router"))[:2] == ["PROD-010", "PROD-011"]


def test_query_and_category_combine() -> None:
    assert product_ids(lookup_products("usb-c", category="accessories")) == ["PROD-007", "PROD-009"]


def test_nothing_matching_gives_an_empty_list() -> None:
    assert lookup_products("submarine") == {"query": "submarine", "category": None, "products": []}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"category": "tablets"}, 'category must be one of laptops, phones, accessories, networking, software, got "tablets".'),
        ({"query": ""}, "query must not be empty."),
        ({"query": "the"}, 'query "the" has no words to search for; name a product or feature.'),
        ({"query": ["laptop"]}, 'query must be a string, got ["laptop"].'),
        ({"query": "laptop", "category": 3}, "category must be one of laptops, phones, accessories, networking, software, got 3."),
    ],
)
def test_bad_arguments_to_lookup_products(arguments: dict, message: str) -> None:
    assert lookup_products(**arguments) == {"error": message}


def test_in_stock_product_has_no_restock_date() -> None:
    assert check_inventory("PROD-001") == {
        "product_id": "PROD-001",
        "name": "TechCorp UltraBook 14",
        "in_stock": True,
        "units_available": 42,
        "warehouse": "Reno, NV",
    }


def test_out_of_stock_product_has_the_seeded_restock_date(db_query) -> None:
    result = check_inventory("prod-002")
    assert result["in_stock"] is False
    assert result["units_available"] == 0
    assert db_query("SELECT restock_date FROM inventory WHERE product_id = 'PROD-002'") == [(result["restock_date"],)]
    assert result["restock_date"] > db_query("SELECT substr(value, 1, 10) FROM meta WHERE key = 'seeded_at'")[0][0]


@pytest.mark.parametrize(
    ("product_id", "message"),
    [
        ("PROD-999", "No product with id PROD-999."),
        ("UltraBook", 'product_id must look like PROD-001, got "UltraBook".'),
        (1, "product_id must look like PROD-001, got 1."),
        (None, "product_id must look like PROD-001, got null."),
    ],
)
def test_bad_arguments_to_check_inventory(product_id: object, message: str) -> None:
    assert check_inventory(product_id) == {"error": message}


def test_price_without_a_customer_has_no_discount() -> None:
    assert calculate_pricing("PROD-001", 2) == {
        "product_id": "PROD-001",
        "name": "TechCorp UltraBook 14",
        "quantity": 2,
        "currency": "USD",
        "unit_price": 1299.0,
        "subtotal": 2598.0,
        "customer_id": None,
        "tier": "standard",
        "tier_discount_percent": 0,
        "tier_discount": 0.0,
        "volume_discount_percent": 0,
        "volume_discount": 0.0,
        "total": 2598.0,
    }


@pytest.mark.parametrize(
    ("customer_id", "tier", "percent", "total"),
    [
        ("CUST-1002", "standard", 0, 129.99),
        ("CUST-1003", "silver", 5, 123.49),  # 6.4995 off rounds half up to 6.50
        ("CUST-1001", "gold", 10, 116.99),
        ("CUST-1004", "platinum", 15, 110.49),
    ],
)
def test_tier_discounts(customer_id: str, tier: str, percent: int, total: float) -> None:
    result = calculate_pricing("PROD-013", 1, customer_id=customer_id)
    assert (result["tier"], result["tier_discount_percent"], result["total"]) == (tier, percent, total)


@pytest.mark.parametrize(("quantity", "percent"), [(9, 0), (10, 5), (49, 5), (50, 10)])
def test_volume_discount_thresholds(quantity: int, percent: int) -> None:
    assert calculate_pricing("PROD-009", quantity)["volume_discount_percent"] == percent


def test_tier_and_volume_discounts_add_up() -> None:
    result = calculate_pricing("PROD-001", 12, customer_id="CUST-1001")
    assert (result["subtotal"], result["tier_discount"], result["volume_discount"], result["total"]) == (
        15588.0,
        1558.8,
        779.4,
        13249.8,
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"quantity": 0}, "quantity must be between 1 and 1000, got 0."),
        ({"quantity": -3}, "quantity must be between 1 and 1000, got -3."),
        ({"quantity": 1001}, "quantity must be between 1 and 1000, got 1001."),
        ({"quantity": 2.5}, "quantity must be a whole number, got 2.5."),
        ({"quantity": "2"}, 'quantity must be a whole number, got "2".'),
        ({"product_id": "PROD-404"}, "No product with id PROD-404."),
        ({"customer_id": "CUST-9999"}, "No customer with id CUST-9999."),
        ({"customer_id": "gold"}, 'customer_id must look like CUST-1001, got "gold".'),
    ],
)
def test_bad_arguments_to_calculate_pricing(arguments: dict, message: str) -> None:
    assert calculate_pricing(**{"product_id": "PROD-001", "quantity": 1, **arguments}) == {"error": message}
