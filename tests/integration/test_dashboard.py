#!/usr/bin/python3
"""test_dashboard.py - central's dashboard in a real headless Chromium (issue 7).

Starts a private nats-server (127.0.0.1, server-chosen port), bosun-central
serving HTTP on a free 127.0.0.1 port with short liveness thresholds, and
three real agents (n1, n2, n3) electing owners for "vip" (n3 has the
highest priority) and "db" (n1 has) over multicast bound to lo. Then, in
headless Chromium driven by chromedriver (selenium):

  - the page, loaded once, shows the three nodes ALIVE, a summary count of
    them, and the ACTIVE node of each resource (n3 for vip, n1 for db);
  - two commands sent with `bosun-central send` appear under recent
    commands with their results (OK with its output, FAILED with its exit
    code);
  - n2's agent is stopped (SIGTERM to its pid) and the same page, never
    reloaded, shows n2 DEAD, listed first (problem nodes first);
  - a screenshot is kept: <artifacts>/dashboard.png (the path is printed).

Every process is stopped by its pid in a finally block (and at exit). Fails
(exit 2, saying what) when selenium, chromium or chromedriver is missing:
deploy/install-deps.sh installs them, and a test that cannot run has not passed.

usage: test_dashboard.py --central BIN --agent BIN --nats-server BIN --artifacts DIR
"""
import argparse
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

MISSING = 2
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"FAIL: python3-selenium is not installed ({e}); run deploy/install-deps.sh", flush=True)
    sys.exit(MISSING)

procs = []  # every process started, stopped by pid at the end


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def start(argv, log_path):
    out = open(log_path, "ab")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    out.close()
    procs.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=10.0):
    """Signals p by its pid, waits (bounded), then SIGKILL; returns its exit status."""
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=5)
    return p.returncode


def stop_all():
    for p in reversed(procs):
        if p.poll() is None:
            stop(p, signal.SIGINT if p.args[0].endswith("nats-server") else signal.SIGTERM)


atexit.register(stop_all)


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, cond, timeout):
    """Polls cond() every 50 ms for at most timeout s; returns its last value or raises."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = cond()
            if v:
                return v
        except Exception:  # a server still starting: try again
            v = None
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def start_nats(nats_server, tmp):
    ports_dir = os.path.join(tmp, "nats")
    os.mkdir(ports_dir)
    p = start([nats_server, "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", ports_dir],
              os.path.join(tmp, "nats.log"))
    path = os.path.join(ports_dir, f"nats-server_{p.pid}.ports")
    ports = wait_for("nats-server's ports file", lambda: os.path.exists(path) and json.load(open(path)), 10)
    return p, ports["nats"][0]


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def start_fleet(args, tmp, nats_url, http_port):
    central_cfg = os.path.join(tmp, "central.json")
    write_json(central_cfg, {
        "id": "central", "dataDir": os.path.join(tmp, "central"),
        "nats": {"servers": [nats_url]},
        "recorder": {"enabled": False},
        "http": {"listen": f"127.0.0.1:{http_port}"},
        # Short thresholds so a stopped agent is DEAD within about a second.
        "liveness": {"slowMs": 400, "warnMs": 700, "deadMs": 1200, "removeMs": 600000, "checkIntervalMs": 50},
        "timeSync": {"intervalSecs": 1},
    })
    central = start([args.central, "--config-file", central_cfg, "--log-level", "4"],
                    os.path.join(tmp, "central.log"))
    mcast_port = free_port(socket.SOCK_DGRAM)
    group = f"239.255.78.{1 + os.getpid() % 250}"
    agents = {}
    for i in range(3):
        name = f"n{i + 1}"
        cfg = os.path.join(tmp, f"{name}.json")
        write_json(cfg, {
            "id": name, "dataDir": os.path.join(tmp, name),
            "nats": {"servers": [nats_url]},
            "networking": {"interfaceName": "lo", "address": group, "port": mcast_port,
                           "cryptoPassword": "dashboard-test"},
            "resources": [{"id": "vip", "priority": 110 + 10 * i}, {"id": "db", "priority": 130 - 10 * i}],
            "timing": {"heartbeatIntervalMs": 200, "txIntervalSecs": 0.1, "transitionWaitSecs": 0.3},
            # Connectivity probes to every peer learned from heartbeats (the matrix).
            "probes": {"listen": f"127.0.0.1:{free_port()}", "probePeers": True,
                       "intervalMs": 500, "timeoutMs": 400},
        })
        agents[name] = start([args.agent, "--config-file", cfg, "--log-level", "4"],
                             os.path.join(tmp, f"{name}.log"))
    return central, agents


def fleet_ready(base):
    nodes = get_json(base + "/api/nodes")["nodes"]
    res = {r["resource"]: r["active"] for r in get_json(base + "/api/resources")["resources"]}
    alive = sorted(n["node"] for n in nodes if n["status"] == "ALIVE")
    return alive == ["n1", "n2", "n3"] and res.get("vip") == "n3" and res.get("db") == "n1"


def open_browser(tmp):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--no-first-run", "--disable-component-update",
              "--disable-sync", "--disable-extensions", f"--user-data-dir={os.path.join(tmp, 'chromium')}",
              "--window-size=1280,860"):
        opts.add_argument(a)
    service = Service(CHROMEDRIVER, log_path=os.path.join(tmp, "chromedriver.log"))
    return webdriver.Chrome(service=service, options=opts)


# The page is redrawn every poll, so it is read in one script call (atomic on the page's
# thread) rather than element by element, which could go stale between two reads.
READ_PAGE = """
const rows = [...document.querySelectorAll('#nodes tr[data-node]')].map((r) => ({
  node: r.dataset.node, status: r.dataset.status, owns: r.querySelector('td.owns').textContent}));
const active = {};
for (const r of document.querySelectorAll('#resources tr[data-resource]'))
  active[r.dataset.resource] = r.querySelector('td.active').textContent.trim();
const msgs = [...document.querySelectorAll('#messages tr[data-id]')].map((r) => ({
  node: r.dataset.node, status: r.dataset.status, cells: [...r.cells].map((c) => c.textContent.trim())}));
const cells = {};
for (const c of document.querySelectorAll('#matrix td[data-source][data-target]'))
  cells[c.dataset.source + '>' + c.dataset.target] = c.dataset.state;
return {rows: rows, active: active, msgs: msgs, summary: document.getElementById('summary').textContent,
        matrix: !!document.getElementById('matrix'), cells: cells, loadedOnce: window.__bosunLoadedOnce || null};
"""


def read_page(driver):
    return driver.execute_script(READ_PAGE)


def node_rows(page):
    """[(node, status)] in the order the page lists them."""
    return [(r["node"], r["status"]) for r in page["rows"]]


def send(args, tmp, node, method, *data):
    """Queues a command with `bosun-central send` (appends to central's inmsg.txt)."""
    argv = [args.central, "send", "--data-dir", os.path.join(tmp, "central"), "--to", node, "--method", method,
            "--", *data]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, f"{' '.join(argv)}: {r.stdout}{r.stderr}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--central", required=True)
    ap.add_argument("--agent", required=True)
    ap.add_argument("--nats-server", required=True)
    ap.add_argument("--artifacts", required=True, help="where dashboard.png goes")
    args = ap.parse_args()
    for path, what in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            print(f"FAIL: {path} not found: install {what} (deploy/install-deps.sh)", flush=True)
            return MISSING

    tmp = tempfile.mkdtemp(prefix="bosun-dashboard-")
    driver = None
    ok = False
    central = None
    try:
        nats, nats_url = start_nats(args.nats_server, tmp)
        http_port = free_port()
        base = f"http://127.0.0.1:{http_port}"
        central, agents = start_fleet(args, tmp, nats_url, http_port)
        log(f"nats {nats_url}, central {base}, agents pids " +
            ", ".join(f"{k}={p.pid}" for k, p in agents.items()))
        wait_for("3 nodes ALIVE, n3 ACTIVE for vip and n1 for db (API)", lambda: fleet_ready(base), 30)

        driver = open_browser(tmp)
        driver.set_page_load_timeout(20)
        driver.get(base + "/")  # the one and only load
        driver.execute_script("window.__bosunLoadedOnce = 'yes';")
        wait = WebDriverWait(driver, 15, poll_frequency=0.1)
        want = [("n1", "ALIVE"), ("n2", "ALIVE"), ("n3", "ALIVE")]
        try:
            wait.until(lambda d: (lambda p: sorted(node_rows(p)) == want and p["active"].get("vip") == "n3"
                                  and p["active"].get("db") == "n1")(read_page(d)))
        except TimeoutException:
            raise AssertionError(f"page shows {read_page(driver)}")
        page = read_page(driver)
        assert "3 nodes" in page["summary"] and "3 ALIVE" in page["summary"], f"summary: {page['summary']!r}"
        # The owners are also named on their nodes' rows.
        owns = {r["node"]: r["owns"] for r in page["rows"]}
        assert owns == {"n1": "db", "n2": "", "n3": "vip"}, f"ACTIVE for: {owns}"
        assert page["matrix"], "no connectivity matrix element"
        log(f"page: {node_rows(page)}, ACTIVE {page['active']}, summary {page['summary']!r}")

        # The agents' own probes (TCP connect and NATS ping to each peer): every link up.
        links = [f"{a}>{b}" for a in ("n1", "n2", "n3") for b in ("n1", "n2", "n3") if a != b]
        try:
            wait.until(lambda d: all(read_page(d)["cells"].get(k) == "up" for k in links))
        except TimeoutException:
            raise AssertionError(f"matrix not all up: {read_page(driver)['cells']}")
        log(f"matrix: {read_page(driver)['cells']}")

        send(args, tmp, "n1", "shellCommand", "/bin/echo", "hello-dashboard")
        send(args, tmp, "n3", "shellCommand", "/bin/false")
        want_msgs = lambda p: sorted((m["node"], m["status"]) for m in p["msgs"]) == [("n1", "OK"), ("n3", "FAILED")]
        try:
            wait.until(lambda d: want_msgs(read_page(d)))
        except TimeoutException:
            raise AssertionError(f"commands not shown with results: {read_page(driver)['msgs']}")
        msgs = {m["node"]: m["cells"] for m in read_page(driver)["msgs"]}
        # columns: accepted, node, method, status, exit, tries, took, output / error
        assert msgs["n1"][4] == "0" and msgs["n1"][7] == "hello-dashboard", msgs["n1"]
        assert msgs["n3"][4] == "1" and "code 1" in msgs["n3"][7], msgs["n3"]
        log(f"commands: {msgs}")

        log(f"stopping n2 (SIGTERM to pid {agents['n2'].pid})")
        code = stop(agents["n2"])
        assert code == 0, f"n2 exited with {code}"
        try:
            wait.until(lambda d: dict(node_rows(read_page(d))).get("n2") == "DEAD")
        except TimeoutException:
            raise AssertionError(f"n2 not shown DEAD within 15 s; page shows {read_page(driver)}")
        wait.until(lambda d: "1 DEAD" in read_page(d)["summary"])
        page = read_page(driver)
        rows = node_rows(page)
        assert rows[0] == ("n2", "DEAD"), f"the dead node is not listed first: {rows}"
        assert dict(rows).get("n1") == "ALIVE" and dict(rows).get("n3") == "ALIVE", rows
        assert page["loadedOnce"] == "yes", "the page was reloaded"
        # vip stays with n3 and db with n1: n2 owned nothing.
        assert page["active"] == {"vip": "n3", "db": "n1"}, page["active"]
        # The live nodes' probes of n2 fail (refused, no answer); n2's own row goes stale.
        try:
            wait.until(lambda d: (lambda c: c.get("n1>n2") == "down" and c.get("n3>n2") == "down"
                                  and c.get("n2>n1") == "stale" and c.get("n1>n3") == "up")(read_page(d)["cells"]))
        except TimeoutException:
            raise AssertionError(f"matrix does not show n2 unreachable: {read_page(driver)['cells']}")
        log(f"page without reload: {rows}, summary {page['summary']!r}")

        os.makedirs(args.artifacts, exist_ok=True)
        shot = os.path.join(os.path.abspath(args.artifacts), "dashboard.png")
        time.sleep(1.6)  # one more poll, so the ages shown are fresh
        assert driver.save_screenshot(shot), "screenshot failed"
        log(f"screenshot: {shot}")
        ok = True
    except (AssertionError, WebDriverException) as e:
        log(f"FAIL: {e}")
    finally:
        if driver is not None:
            try:
                driver.quit()
            except WebDriverException:
                pass
        code = stop(central) if central is not None else 0
        stop_all()
        if central is not None and code != 0:  # a sanitizer report exits non-zero
            log(f"FAIL: bosun-central exited with {code}")
            ok = False
        if not ok:
            for name in ("central.log", "n2.log", "chromedriver.log"):
                path = os.path.join(tmp, name)
                if os.path.exists(path):
                    with open(path, errors="replace") as f:
                        tail = f.read()[-4000:]
                    print(f"---- {name} (tail) ----\n{tail}", flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
