"""The web console in a real browser (Debian's chromium, driven by Playwright for Python).

Usage: console_check.py BASE_URL ADMIN_TOKEN KEY_FILE SCREENSHOT_DIR
Signs in with the token and with the Ed25519 key file, walks every page, creates a token
with a hostile name (it must show as text), checks that an API 401 sends the user back to
sign in, and saves a screenshot of each page.
"""
import os
import sys

from playwright.sync_api import expect, sync_playwright

base, token, key_file, shots = sys.argv[1:5]
os.makedirs(shots, exist_ok=True)
HOSTILE = '<img src=x onerror="window.__pwned=1"><b>bold</b> & "quotes" ' + os.urandom(4).hex()
problems = []

with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
        args=["--no-sandbox", "--disable-gpu"],
    )
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("dialog", lambda d: d.accept())
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    response = page.goto(base + "/console/")
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp, csp

    # Sign in with the token.
    page.fill("input[name=token]", token)
    page.click("#token-form button[type=submit]")
    expect(page.locator("nav")).to_be_visible()
    expect(page.locator(".stat").first).to_be_visible()
    expect(page.locator(".chart svg").first).to_be_visible()
    page.screenshot(path=f"{shots}/overview.png", full_page=True)

    page.click("nav >> text=Providers")
    expect(page.locator("h2", has_text="Keys").first).to_be_visible()
    expect(page.locator("text=healthy").first).to_be_visible()
    page.screenshot(path=f"{shots}/providers.png", full_page=True)

    # Tokens: create one with a hostile name; the plaintext is shown once.
    page.click("nav >> text=Tokens")
    page.click("button:has-text('Create')")
    page.fill("input[name=name]", HOSTILE)
    page.fill("input[name=max_amount]", "5")
    page.fill("input[name=max_tokens]", "100000")
    page.click(".modal button[type=submit]")
    secret = page.locator("#new-token")
    expect(secret).to_be_visible()
    assert secret.inner_text().startswith("gz-"), secret.inner_text()
    page.screenshot(path=f"{shots}/token-created.png")
    page.click(".modal button:has-text('Done')")
    cell = page.locator("td strong", has_text=HOSTILE)
    expect(cell).to_have_count(1)
    assert cell.inner_text() == HOSTILE, cell.inner_text()
    assert page.locator("td img").count() == 0 and page.locator("td b").count() == 0
    assert page.evaluate("window.__pwned") is None
    page.screenshot(path=f"{shots}/tokens.png", full_page=True)

    # Teams: create one with a hostile name and a monthly budget; its usage, period and
    # reset show, and its (still empty) token list opens.
    page.click("nav >> text=Teams")
    page.click("#create-team")
    page.fill(".modal input[name=name]", HOSTILE)
    page.fill(".modal input[name=budget_period]", "monthly")
    page.fill(".modal input[name=max_amount]", "250")
    page.click(".modal button[type=submit]")
    team = page.locator("td strong", has_text=HOSTILE)
    expect(team).to_have_count(1)
    assert team.inner_text() == HOSTILE, team.inner_text()
    row = page.locator("tr", has=team)
    expect(row).to_contain_text("monthly")
    expect(row).to_contain_text("of $250")
    row.locator("button:has-text('Tokens')").click()
    expect(page.locator("#team-tokens")).to_contain_text("No tokens in this team yet")
    assert page.locator("td img").count() == 0 and page.locator("td b").count() == 0
    assert page.evaluate("window.__pwned") is None
    page.fill("#team-search input[name=q]", "no such team")
    page.click("#team-search button[type=submit]")
    expect(page.locator("text=No team matches.")).to_be_visible()
    page.screenshot(path=f"{shots}/teams.png", full_page=True)

    page.click("nav >> text=Logs")
    expect(page.locator("table tbody tr").first).to_be_visible()
    page.locator("table tbody tr").first.click()
    expect(page.locator("#log-detail")).to_be_visible()
    # The newest call belongs to a trace: its detail links to it (trace_url_template).
    link = page.locator("#trace-link")
    expect(link).to_have_attribute("href", "https://tempo.example/trace/4bf92f3577b34da6a3ce929d0e0e4736")
    expect(link).to_have_text("4bf92f3577b34da6a3ce929d0e0e4736")
    page.select_option("select[name=status]", "error")
    page.click("form.toolbar button[type=submit]")
    expect(page.locator("table tbody tr").first).to_contain_text("4")
    page.screenshot(path=f"{shots}/logs.png", full_page=True)

    page.click("nav >> text=Audit")
    expect(page.locator("td", has_text="create").first).to_be_visible()
    page.screenshot(path=f"{shots}/audit.png", full_page=True)

    page.click("nav >> text=Prices")
    expect(page.locator("table")).to_be_visible()
    page.screenshot(path=f"{shots}/prices.png")
    page.click("nav >> text=Redirects")
    expect(page.locator("h1", has_text="Redirects")).to_be_visible()

    # An API 401 (a token that stopped working) sends the user back to sign in.
    page.evaluate("sessionStorage.setItem('gateway-zero-console', 'gz-not-a-token')")
    page.goto(base + "/console/#/tokens")
    page.reload()
    expect(page.locator("input[name=token]")).to_be_visible()
    expect(page.locator("#signin-error")).to_contain_text("sign in again")
    page.screenshot(path=f"{shots}/signin.png")

    # Sign in with the key file: signed in the browser (WebCrypto Ed25519).
    page.set_input_files("input[name=keyfile]", key_file)
    page.click("#key-form button[type=submit]")
    expect(page.locator("nav")).to_be_visible()
    expect(page.locator("#who-text")).to_have_text("admin session")
    page.click("nav >> text=Audit")
    expect(page.locator("td", has_text="login").first).to_be_visible()
    browser.close()

# Script errors and CSP refusals count; a resource answered 401 (the bogus token above) is
# the API doing its job.
problems = [p for p in problems if not p.startswith("Failed to load resource")]
assert not problems, problems
print("ok")
