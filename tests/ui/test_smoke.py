"""The app's own pages open in a real browser after a login through the form."""


def test_login_then_home_shows_navigation(logged_in, screenshot):
    page, _user, base = logged_in
    nav = page.locator("header nav")
    assert nav.get_by_role("link", name="Workflows").is_visible()
    assert nav.get_by_role("link", name="Connectors").is_visible()
    assert nav.get_by_role("link", name="Credentials").is_visible()
    screenshot("home")
