from tests.api.shop import api, shop  # noqa: F401 - fixtures for every test of this package

