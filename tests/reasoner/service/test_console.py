"""The web console in a real browser: Debian's chromium, driven by Selenium, against a real server.

One console server (keys on, the service tests' plug-ins) over the session's tiny engine, and one browser,
for the module. Each test drives a page as a user would (keyboard and clicks), checks what it shows against
the API, takes a screenshot into `SHOTS`, and fails on any console error the page logged (CSP violations
included). Not here: the read endpoints' hostile cases (`test_read_routes.py`).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.reasoner.service.conftest import PLUGINS, KEY_A, KEY_B, free_port, serving, write_keys

SHOTS = Path(__file__).parents[3] / "build" / "console-screenshots"
"""Where the tests write a screenshot of every page they visit (`docs/images/` holds the chosen ones)."""
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic", "--window-size=1366,900")
XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'

pytestmark = pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                                reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")


@pytest.fixture(scope="module")
def console(engine, verifiers, tiny_checkpoint, tmp_path_factory):
    """A keyed server for the browser tests, with room for several jobs per key."""
    from reasoner.service.app import create_app
    from reasoner.service.config import Limits, ServiceConfig
    from reasoner.service.server import build_state
    from tests.reasoner.service.conftest import Service

    folder = tmp_path_factory.mktemp("console")
    keys = write_keys(folder / "keys.txt", (KEY_A, KEY_B))
    port, model = free_port(), str(tiny_checkpoint)
    config = ServiceConfig(models=(model,), port=port, keys_file=keys, db=folder / "service.db", plugins=PLUGINS,
                           job_concurrency=1,  # one problem at a time: a job's progress bar moves step by step
                           limits=Limits(max_n=8, max_samples=16, max_tokens=256, max_jobs_per_key=4))
    state = build_state(config, generators={model: engine}, verifiers=verifiers)
    with serving(create_app(state), port):
        yield Service(url=f"http://127.0.0.1:{port}", model=model, engine=engine, spy=None, keys_file=keys, db=config.db)
    state.db.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=DriverService(executable_path=str(CHROMEDRIVER)))
    driver.set_script_timeout(60)
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, console):
    """The browser on the console with KEY_A entered in the key box; from before the key to the end of the
    test, no console errors."""
    browser.get(f"{console.url}/ui/static/app.css")  # the console's origin, without its script running
    browser.execute_script("sessionStorage.clear()")
    browser.get_log("browser")  # what earlier tests left (a test that expects a 404 reads it itself)
    browser.get(f"{console.url}/ui#/jobs")
    wait(browser, found("#needkey[role=alert]"))  # without a key, the page asks for one, calling no API
    enter_key(browser, KEY_A)
    wait(browser, found("#jobform"))
    yield browser
    assert_no_console_errors(browser)


def assert_no_console_errors(browser) -> None:
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors


def enter_key(browser, key: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = browser.find_element(By.ID, "key")
    box.send_keys(key, Keys.ENTER)
    wait(browser, lambda d: "key set" in d.find_element(By.ID, "keystate").text)


def wait(browser, condition, timeout_s: float = 180.0):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # the pages redraw as they poll, so an element found a moment ago may be gone: look again
    return WebDriverWait(browser, timeout_s, poll_frequency=0.1,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(condition)


def shot(browser, name: str) -> Path:
    path = SHOTS / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def found(css: str, count: int = 1):
    from selenium.webdriver.common.by import By

    def check(driver):
        elements = driver.find_elements(By.CSS_SELECTOR, css)
        return elements if len(elements) >= count else False

    return check


def words(text: str) -> str:
    """`text` with its white space collapsed, as compared with what the browser renders."""
    return " ".join(text.split())


def api_job(console, body: dict, key: str = KEY_A) -> dict:
    from tests.reasoner.service.test_jobs import wait_for

    with console.http(key=key) as http:
        created = http.post("/v1/jobs", json=body)
        assert created.status_code == 201, created.text
        return wait_for(http, created.json()["id"], {"succeeded", "failed", "cancelled"}, timeout_s=300)


def test_no_page_logs_a_console_error_before_or_after_the_key(browser, console):
    """On a keyed server, every page opened before a key is entered shows the key form and makes no failing
    request (the page asks `/ui/access` first); after the key, every page loads its data without an error."""
    from selenium.webdriver.common.by import By

    job = api_job(console, {"dataset": "arith", "limit": 1, "strategy": "self_consistency",
                            "options": {"n": 2, "max_tokens": 8}})
    with console.http() as http:
        problem_id = http.get(f"/v1/jobs/{job['id']}/problems").json()["data"][0]["problem_id"]
    pages = {"#/jobs": "#jobform", "#/playground": "#strategy", f"#/job/{job['id']}": "#accuracy tbody tr",
             f"#/job/{job['id']}/problem/{problem_id}": "#candidates .candidate",
             f"#/compare/{job['id']}/{job['id']}": "#comparelevels tbody tr"}
    browser.get(f"{console.url}/ui/static/app.css")
    browser.execute_script("sessionStorage.clear()")
    browser.get_log("browser")
    for where in pages:
        browser.get(f"{console.url}/ui{where}")
        wait(browser, found("#needkey[role=alert]"))
        assert browser.execute_script(
            "return performance.getEntriesByType('resource').filter((e) => e.name.includes('/v1/')).length") == 0
    shot(browser, "needs-key")
    assert_no_console_errors(browser)
    enter_key(browser, KEY_A)
    for where, shows in pages.items():
        browser.get(f"{console.url}/ui{where}")
        wait(browser, found(shows))
        assert not browser.find_elements(By.ID, "needkey")
    assert_no_console_errors(browser)


def test_the_key_stays_in_session_storage_never_in_the_url(page, console):
    assert page.execute_script("return sessionStorage.getItem('reasoner.key')") == KEY_A
    page.get(f"{console.url}/ui#/jobs")
    wait(page, found("#jobform"))
    assert KEY_A not in page.current_url
    assert page.execute_script("return document.cookie") == ""


def test_playground_runs_self_consistency_and_shows_candidates_and_the_answer(page, console):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    page.get(f"{console.url}/ui#/playground")
    wait(page, found("[data-option=n]"))
    Select(page.find_element(By.ID, "strategy")).select_by_value("self_consistency")
    n = page.find_element(By.CSS_SELECTOR, "[data-option=n]")
    n.clear()
    n.send_keys("4")
    tokens = page.find_element(By.ID, "max_tokens")
    tokens.clear()
    tokens.send_keys("24")
    page.find_element(By.ID, "run").click()
    cards = wait(page, found("#candidates .candidate", 4))
    assert len(cards) == 4
    chosen = page.find_elements(By.CSS_SELECTOR, "#candidates .candidate.chosen")
    answer = page.find_element(By.ID, "chosen").text
    assert len(chosen) <= 1 and (answer == "–") == (not chosen)
    if chosen:
        assert f"answer: {words(answer)}" in words(chosen[0].text)
    assert "4 candidates" in page.find_element(By.ID, "live").text  # the progress stream's counts
    assert "generate" in page.find_element(By.ID, "events").text
    assert "FLOPs" in page.find_element(By.ID, "cost").text
    shot(page, "playground")


def test_a_job_submitted_from_the_form_shows_live_progress_and_its_accuracy(page, console):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    page.get(f"{console.url}/ui#/jobs")
    form = wait(page, found("#jobform"))[0]
    with console.http() as http:
        before = {job["id"] for job in http.get("/v1/jobs").json()["data"]}
    Select(form.find_element(By.NAME, "strategy")).select_by_value("slow")  # 0.3 s a problem: progress is seen
    limit = form.find_element(By.NAME, "limit")
    limit.clear()
    limit.send_keys("8")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    job_id = wait(page, lambda d: next((r.get_attribute("data-job") for r in d.find_elements(
        By.CSS_SELECTOR, "#jobs tbody tr") if r.get_attribute("data-job") not in before), None))
    seen = set()

    def finished(driver):
        rows = driver.find_elements(By.CSS_SELECTOR, f"#jobs tr[data-job='{job_id}']")
        if not rows:
            return False
        seen.add(int(rows[0].find_element(By.TAG_NAME, "progress").get_attribute("value")))
        return rows[0].get_attribute("data-status") == "succeeded"

    wait(page, finished)
    assert len(seen - {0, 8}) >= 1, f"the bar never showed a partial count: {sorted(seen)}"
    shot(page, "jobs")
    page.find_element(By.LINK_TEXT, job_id).click()
    table = wait(page, found("#accuracy tbody tr"))[0].find_element(By.XPATH, "..")
    last = table.find_elements(By.TAG_NAME, "tr")[-1].text
    with console.http() as http:
        stats = http.get(f"/v1/jobs/{job_id}/stats").json()
    assert last.startswith("all 8 ") and f"{100 * stats['overall']['accuracy']:.1f}%" in last
    wait(page, found("#problems tbody tr", 8))
    shot(page, "job")


def test_a_problem_view_shows_its_candidates_and_votes(page, console):
    from selenium.webdriver.common.by import By

    job = api_job(console, {"dataset": "arith", "limit": 2, "strategy": "self_consistency",
                            "options": {"n": 3, "max_tokens": 24}})
    page.get(f"{console.url}/ui#/job/{job['id']}")
    links = wait(page, found("#problems tbody a", 2))
    problem_id = links[0].text
    links[0].send_keys("\n")  # keyboard: Enter on the focused link
    cards = wait(page, found("#candidates .candidate", 3))
    with console.http() as http:
        view = http.get(f"/v1/jobs/{job['id']}/problems/{problem_id}").json()
    assert [words(c.find_element(By.CLASS_NAME, "text").text) for c in cards] == \
        [words(c["text"]) for c in view["candidates"]]
    assert words(page.find_element(By.CSS_SELECTOR, "pre.prompt").text) == words(view["prompt"])
    vote = next(event for event in view["trace"] if event["kind"] == "vote")
    assert page.find_elements(By.ID, "votes")  # one row per answer group (none when no candidate answered)
    assert len(page.find_elements(By.CSS_SELECTOR, "#votes tbody tr")) == len(vote["data"]["groups"])
    shot(page, "problem")


def test_a_sweep_page_draws_its_curves_and_frontier(page, console):
    from selenium.webdriver import ActionChains
    from selenium.webdriver.common.by import By

    job = api_job(console, {"dataset": "arith", "limit": 3, "sweep": {
        "strategies": ["self_consistency", "best_of_n"], "budgets": [1, 2, 4], "max_tokens": 24}})
    assert job["status"] == "succeeded", job
    with console.http() as http:
        rows = http.get(f"/v1/jobs/{job['id']}/artifacts/summary.json").json()["rows"]
    page.get(f"{console.url}/ui#/job/{job['id']}")
    wait(page, found("#curves svg.chart"))
    shot(page, "sweep")
    for field in ("mean_generated_tokens", "mean_flops"):
        chart = page.find_element(By.CSS_SELECTOR, f"#curves svg[data-field={field}][data-level=all]")
        assert len(chart.find_elements(By.CSS_SELECTOR, "circle.pt")) == len([r for r in rows if r[field] > 0])
        assert chart.find_elements(By.CSS_SELECTOR, "path.frontier")
        assert {line.get_attribute("data-series").split()[-1] for line in chart.find_elements(By.CSS_SELECTOR,
                "polyline.series")} == {"self_consistency", "best_of_n"}
    point = page.find_element(By.CSS_SELECTOR, "#curves svg[data-field=mean_flops][data-level=all] circle.pt")
    ActionChains(page).move_to_element(point).perform()
    tip = wait(page, lambda d: d.find_element(By.ID, "tip").is_displayed() and d.find_element(By.ID, "tip"))
    assert "accuracy" in tip.text and "FLOPs per problem" in tip.text
    shot(page, "sweep-hover")
    page.find_element(By.CSS_SELECTOR, "input[data-toggle=self_consistency]").click()  # toggle a strategy off
    chart = "#curves svg[data-field=mean_generated_tokens][data-level=all]"
    wait(page, lambda d: len(d.find_elements(By.CSS_SELECTOR, f"{chart} circle.pt")) ==
         len([r for r in rows if r["strategy"] == "best_of_n" and r["mean_generated_tokens"] > 0]))


def test_a_search_problem_shows_its_tree(page, console):
    from selenium.webdriver.common.by import By

    job = api_job(console, {"dataset": "arith", "limit": 1, "strategy": "beam_search",
                            "options": {"n": 4, "width": 2, "value": "logprob", "max_steps": 3, "step_tokens": 8}})
    with console.http() as http:
        problem_id = http.get(f"/v1/jobs/{job['id']}/problems").json()["data"][0]["problem_id"]
        tree = http.get(f"/v1/jobs/{job['id']}/problems/{problem_id}").json()["tree"]
    page.get(f"{console.url}/ui#/job/{job['id']}/problem/{problem_id}")
    nodes = wait(page, found("#tree circle.node"))
    assert len(nodes) == len(tree["nodes"])
    assert len(page.find_elements(By.CSS_SELECTOR, "#tree circle.node.chosen")) == len(tree["chosen_path"])
    assert len(page.find_elements(By.CSS_SELECTOR, "#tree circle.node.firstwrong")) == len(tree["first_wrong"])
    nodes[-1].click()
    assert nodes[-1].get_attribute("aria-label") in page.find_element(By.CSS_SELECTOR, "pre.step").text
    shot(page, "tree")


def test_model_output_with_a_script_renders_as_text(page, console):
    from selenium.webdriver.common.by import By

    upload = json.dumps({"id": "xss-1", "prompt": f"What is 1+1? {XSS}", "answer": "2"}) + "\n"
    job = api_job(console, {"data": upload, "strategy": "fixed_answer", "options": {"text": f"{XSS} \\boxed{{2}}"}})
    assert job["status"] == "succeeded", job
    page.get(f"{console.url}/ui#/job/{job['id']}/problem/xss-1")
    card = wait(page, found("#candidates .candidate"))[0]
    assert XSS in card.find_element(By.CLASS_NAME, "text").text
    assert XSS in page.find_element(By.CSS_SELECTOR, "pre.prompt").text
    assert page.execute_script("return window.__pwned === undefined")
    assert not page.find_elements(By.CSS_SELECTOR, "main script, main img")
    shot(page, "xss")


def test_compare_two_jobs_side_by_side(page, console):
    from selenium.webdriver.common.by import By

    jobs = [api_job(console, {"dataset": "arith", "limit": 3, "strategy": strategy, "options": options})
            for strategy, options in (("cot", {"max_tokens": 24}), ("self_consistency", {"n": 3, "max_tokens": 24}))]
    first, second = (job["id"] for job in jobs)
    page.get(f"{console.url}/ui#/compare/{first}/{second}")
    wait(page, found("#comparelevels tbody tr"))
    page.find_element(By.CSS_SELECTOR, "select[aria-label='which problems']").send_keys("every")
    rows = wait(page, found("#compare tbody tr", 3))
    rows[0].find_element(By.TAG_NAME, "button").click()
    wait(page, found("#side .candidate", 1 + 3))
    shot(page, "compare")


def test_another_keys_job_is_not_shown(page, console):
    from selenium.webdriver.common.by import By

    job = api_job(console, {"dataset": "arith", "limit": 1, "options": {"max_tokens": 4}}, key=KEY_B)
    page.get(f"{console.url}/ui#/job/{job['id']}")
    alert = wait(page, found("[role=alert]"))[0]
    assert alert.text.startswith("404")
    page.get_log("browser")  # the 404 itself is logged by the browser as a failed load: expected here


def test_the_console_works_without_keys_on_loopback(browser, make_server):
    from selenium.webdriver.common.by import By

    with make_server(name="keyless") as server:
        browser.execute_script("sessionStorage.clear()")
        browser.get(f"{server.url}/ui#/playground")
        wait(browser, found("#strategy"))
        browser.get(f"{server.url}/ui#/jobs")
        wait(browser, found("#jobform"))
        assert "No jobs yet" in browser.find_element(By.ID, "main").text
        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, errors


def big_job(console, problems: int = 5000) -> str:
    """A finished solve job of KEY_A's with `problems` records, written straight into the server's SQLite file
    the way `JobRecords` writes them (a real job of this size would take the tiny engine an hour here)."""
    from reasoner.service.keys import KeyRing
    from reasoner.service.store import ServiceDB

    owner = KeyRing.from_file(console.keys_file).owner(f"Bearer {KEY_A}")
    db = ServiceDB(console.db)
    job_id = f"job-big-{problems}"
    config = {"dataset": "arith", "strategy": "cot", "strategy_options": {}, "model": console.model}
    db.create_job(job_id, owner, json.dumps(config), "hash", json.dumps(
        [{"id": f"p{i:05d}", "prompt": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(problems)]), problems)
    for i in range(problems):
        right = i % 3 == 0
        db.add_record(job_id, f"p{i:05d}", json.dumps({
            "problem_id": f"p{i:05d}", "config_hash": "hash", "strategy": "cot", "level": 1 + i % 5,
            "answer": str(i + 1 if right else i), "reference": str(i + 1), "status": "correct" if right else "incorrect",
            "score": 1.0 if right else 0.0, "correct": right, "detail": None, "stop_reason": "done", "error": None,
            "cost": {"generated_tokens": i % 97, "wall_seconds": (i % 89) / 10, "flops": 1e6 * (i % 97)}, "chosen": 0,
            "candidates": [{"text": f"\\boxed{{{i + 1 if right else i}}}", "num_tokens": 3, "finish_reason": "stop"}]}))
    db.set_status(job_id, "succeeded", summary={"problems": problems})
    db.close()
    return job_id


def test_a_5000_problem_job_opens_one_page_at_a_time(page, console):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    job_id = big_job(console)
    page.get(f"{console.url}/ui#/job/{job_id}")
    wait(page, found("#problems tbody tr", 50))
    assert len(page.find_elements(By.CSS_SELECTOR, "#problems tbody tr")) == 50
    assert page.find_element(By.CSS_SELECTOR, "#accuracy tbody tr:last-child").text.startswith("all 5000 1667 0 33.3%")
    Select(page.find_element(By.CSS_SELECTOR, "select[aria-label=verdict]")).select_by_value("right")
    wait(page, lambda d: "1–50 of 1667" in d.find_element(By.ID, "main").text)
    page.find_element(By.XPATH, "//button[text()='next →']").click()
    wait(page, lambda d: "51–100 of 1667" in d.find_element(By.ID, "main").text)
    assert all(row.text.split()[2] == "correct" for row in page.find_elements(By.CSS_SELECTOR, "#problems tbody tr"))


def test_the_static_report_opens_from_disk_without_errors(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from reasoner.cli import main
    from tests.reasoner.service.test_report_html import results_file

    assert main(["report", str(results_file(tmp_path / "results.jsonl")), "--html", str(tmp_path / "site")]) == 0
    browser.get((tmp_path / "site" / "index.html").as_uri())
    wait(browser, lambda d: d.find_element(By.ID, "count").text == "2 of 2 problems")  # its script ran
    Select(browser.find_element(By.ID, "level")).select_by_value("2")
    assert browser.find_element(By.ID, "count").text == "1 of 2 problems"
    shot(browser, "report")
    browser.find_element(By.LINK_TEXT, "arith-test-00001").click()
    card = wait(browser, found("#candidates .candidate"))[0]
    assert XSS in card.text and browser.execute_script("return window.__pwned === undefined")
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors


WATCH_TREE = """
window.__treeSeen = [];
new MutationObserver(() => {
  const tree = document.getElementById('tree'), answer = document.getElementById('answer');
  if (!tree) return;
  const circles = [...tree.querySelectorAll('circle.node')];
  window.__treeSeen.push({nodes: circles.length, state: tree.dataset.state, answered: !!(answer && answer.childElementCount),
    edges: Object.fromEntries(circles.map((c) => [c.dataset.node, c.dataset.parent]))});
}).observe(document.getElementById('output'), {childList: true, subtree: true});
"""
"""Records, on every change to the playground's output, the tree's node count and edges, its state (growing or
final) and whether the answer had arrived."""


def test_the_playground_grows_a_search_tree_live(page, console):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    page.get(f"{console.url}/ui#/playground")
    wait(page, found("#strategy"))
    Select(page.find_element(By.ID, "strategy")).select_by_value("beam_search")
    for name, value in (("n", "4"), ("width", "2"), ("max_steps", "3"), ("step_tokens", "8")):
        box = page.find_element(By.CSS_SELECTOR, f"[data-option={name}]")
        box.clear()
        box.send_keys(value)
    assert page.find_element(By.CSS_SELECTOR, "[data-option=value]").get_attribute("value") == "logprob"
    page.execute_script(WATCH_TREE)
    page.find_element(By.ID, "run").click()
    wait(page, found("#tree[data-state=final] circle.node", 2))
    seen = page.execute_script("return window.__treeSeen")
    growing = [s for s in seen if s["state"] == "growing" and not s["answered"]]
    counts = [s["nodes"] for s in growing]
    assert counts and max(counts) >= 2, seen  # the tree was drawn before the answer came
    assert len(set(counts)) >= 2 and counts == sorted(counts), counts  # and it grew, never shrank
    final = {c.get_attribute("data-node"): c.get_attribute("data-parent")
             for c in page.find_elements(By.CSS_SELECTOR, "#tree circle.node")}
    assert set(growing[-1]["edges"].items()) <= set(final.items())  # the live tree is the final one, unfinished
    streamed = int(page.find_element(By.ID, "live").text.split(" tree nodes")[0].split()[-1])
    assert streamed + 1 == len(final)  # every node but the root came through the stream
    assert page.find_elements(By.CSS_SELECTOR, "#tree circle.node.chosen")  # the chosen path, marked at the end
    assert "tree" in page.find_element(By.ID, "events").text  # the search's tree event came through the stream
    shot(page, "playground-search")


def test_the_static_sweep_page_draws_its_curves_from_disk(browser, tmp_path):
    from selenium.webdriver import ActionChains
    from selenium.webdriver.common.by import By

    from reasoner.cli import main
    from tests.reasoner.eval.synthetic_sweep import SWEEP

    assert main(["report", str(SWEEP), "--html", str(tmp_path / "site")]) == 0
    rows = json.loads((SWEEP / "summary.json").read_text())["rows"]
    browser.get_log("browser")
    browser.get((tmp_path / "site" / "index.html").as_uri())
    wait(browser, found("#curves svg.chart"))
    for field in ("mean_generated_tokens", "mean_flops"):
        chart = browser.find_element(By.CSS_SELECTOR, f"#curves svg[data-field={field}][data-level=all]")
        assert len(chart.find_elements(By.CSS_SELECTOR, "circle.pt")) == len([r for r in rows if r[field] > 0])
        assert chart.find_elements(By.CSS_SELECTOR, "path.frontier")
        assert {line.get_attribute("data-series").split()[-1] for line in chart.find_elements(
            By.CSS_SELECTOR, "polyline.series")} == {r["strategy"] for r in rows if r[field] > 0}
    point = browser.find_element(By.CSS_SELECTOR, "#curves svg[data-field=mean_flops][data-level=all] circle.pt")
    ActionChains(browser).move_to_element(point).perform()
    tip = wait(browser, lambda d: d.find_element(By.ID, "tip").is_displayed() and d.find_element(By.ID, "tip"))
    assert "accuracy" in tip.text
    shot(browser, "report-sweep")
    assert browser.execute_script("return performance.getEntriesByType('resource').every("
                                  "(e) => e.name.startsWith('file:'))")  # offline: nothing fetched from elsewhere
    assert_no_console_errors(browser)


def test_the_static_compare_page_shows_where_two_runs_differ_from_disk(browser, tmp_path):
    from selenium.webdriver.common.by import By

    from reasoner.cli import main
    from tests.reasoner.service.test_report_html import compare_files

    first, second = compare_files(tmp_path)
    assert main(["report", str(first), "--compare", str(second), "--html", str(tmp_path / "site")]) == 0
    browser.get_log("browser")
    browser.get((tmp_path / "site" / "index.html").as_uri())
    rows = wait(browser, found("#compare tbody tr"))
    assert len(rows) == 1 and rows[0].text.startswith("arith-test-00001")  # the one problem where they differ
    levels = [words(row.text) for row in browser.find_elements(By.CSS_SELECTOR, "#comparelevels tbody tr")]
    assert levels == ["2 1 0 0 1", "– 1 0 0 0"], levels
    rows[0].find_element(By.TAG_NAME, "button").click()
    cards = wait(browser, found("#side .candidate", 6))
    assert XSS in cards[0].find_element(By.CLASS_NAME, "text").text
    assert browser.execute_script("return window.__pwned === undefined")
    shot(browser, "report-compare")
    browser.find_element(By.CSS_SELECTOR, "select[aria-label='which problems']").send_keys("every")
    wait(browser, found("#compare tbody tr", 2))
    assert_no_console_errors(browser)
