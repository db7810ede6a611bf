"""Dashboard test configuration."""


def pytest_configure(config):
    # aiohttp-session stores its own request keys as plain strings; that is the library's business.
    config.addinivalue_line("filterwarnings", "ignore::aiohttp.web.NotAppKeyWarning:aiohttp_session")
