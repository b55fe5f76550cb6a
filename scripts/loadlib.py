"""Shared machinery for scripts/load and benches/compare/*: build and start the
engine on loopback with a generated load config, register SIPp agents from a
CSV injection file, run SIPp carriers, and read SIPp's statistics and /proc.

Standard library only. Everything started here is registered in `STARTED`
and stopped by `stop_all()` (the CLIs call it from atexit and on signals).
"""

import atexit
import csv
import glob
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = os.path.join(ROOT, "tests", "sip-scenarios", "load")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

STARTED = []  # Popen objects we own


def log(msg):
    print(f"[load {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def stop_all():
    """Stops every process this run started (SIGTERM, then SIGKILL), by pid."""
    for p in reversed(STARTED):
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.time() + 5
    for p in reversed(STARTED):
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    STARTED.clear()


def install_exit_handlers():
    atexit.register(stop_all)

    def on_signal(signum, _frame):
        stop_all()
        sys.exit(128 + signum)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)


def spawn(args, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(args, **kw)
    STARTED.append(p)
    return p


def ensure_apt(binary, package):
    """Installs a Debian package when `binary` is not on PATH."""
    if shutil.which(binary):
        return
    log(f"{binary} missing: apt-get install {package}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env)


def ensure_sipp():
    ensure_apt("sipp", "sip-tester")


def build_engine(profile="release"):
    """`cargo build -p switchboard` and the binary's path."""
    flag = ["--release"] if profile == "release" else []
    subprocess.run(
        ["cargo", "build", "-q", "-p", "switchboard", *flag], cwd=ROOT, check=True
    )
    return os.path.join(ROOT, "target", profile, "switchboard")


def workdir(name):
    d = tempfile.mkdtemp(prefix=f"switchboard-load-{name}-")
    return d


# ---------------------------------------------------------------- /proc


def proc_cpu_seconds(pid):
    """utime + stime of a process (all its threads, dead ones included)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def proc_rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def descendants(pid):
    """pid and every process below it (by walking /proc's ppid links)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d))
        except (OSError, ValueError, IndexError):
            pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_cpu_seconds(pid):
    return sum(proc_cpu_seconds(p) for p in descendants(pid))


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs, {model}"


def free_port_block(n, start=21000, stop=60000, step=None):
    """A base port such that base..base+n-1 are free for UDP on loopback.
    The scan starts at a random block so that runs side by side (parallel
    tests, other engineers' engines) rarely probe the same ports."""
    import random

    step = step or n
    bases = list(range(start, stop - n, step))
    if not bases:
        raise RuntimeError("no free port block")
    first = random.randrange(len(bases))
    for base in bases[first:] + bases[:first]:
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port block")


# ---------------------------------------------------------------- engine


def agent_id(i):
    return str(100000 + i)


def write_config(
    path,
    sip_port,
    admin_port,
    agents,
    rtp_ports,
    ring_timeout="10s",
    rtp_timeout="1h",
    capacity=1,
    overload=True,
    media_workers=0,
):
    """A load config: one trunk (loopback), `agents` agents in one queue
    `load` on number 5000, wrap_up 0 s so agents are reoffered at once.
    `media_workers` > 0 sets `[media] workers` (default: one per core)."""
    lines = [
        "# Generated by scripts/loadlib.py for load runs.",
        "[sip]",
        f'listen = ["udp:127.0.0.1:{sip_port}"]',
        "",
        "[media]",
        'ip = "127.0.0.1"',
        f"rtp_ports = [{rtp_ports[0]}, {rtp_ports[1]}]",
        f'rtp_timeout = "{rtp_timeout}"',
        *([f"workers = {media_workers}"] if media_workers else []),
        "",
        "[admin]",
        f'listen = "127.0.0.1:{admin_port}"',
        "",
        "[auth]",
        "max_failures = 1000",
        "",
        "[cdr]",
        'path = "cdr.jsonl"',
        "",
    ]
    if overload:
        # All agents register from one SIPp source: lift the per-source
        # REGISTER bucket. Completed transactions linger 32 s (Timers J, L,
        # M at T1 = 500 ms) and the gate counts them, so the default
        # max_transactions (50,000) refuses new calls above ~500 CPS
        # sustained: lift it too. max_queue_delay keeps its default.
        lines += [
            "[overload]",
            "register_rate = 1000000.0",
            "register_burst = 1000000.0",
            "max_transactions = 2000000",
            "",
        ]
    lines += [
        "[[trunk]]",
        'name = "load"',
        'allow = ["127.0.0.0/8"]',
        "",
        "[[queue]]",
        'name = "load"',
        "require = { load = 1 }",
        'strategy = "longest-idle"',
        f'ring_timeout = "{ring_timeout}"',
        'wrap_up = "0s"',
        "",
        "[[route]]",
        'to = "5000"',
        'queue = "load"',
        "",
    ]
    for i in range(agents):
        lines += [
            "[[agent]]",
            f'id = "{agent_id(i)}"',
            f'password = "pw{agent_id(i)}"',
            "skills = { load = 1 }",
            f"capacity = {capacity}",
            "",
        ]
    with open(path, "w") as f:
        f.write("\n".join(lines))


class Engine:
    """The switchboard binary on loopback, started with a load config."""

    def __init__(self, binary, wdir, agents, calls_max, log_level="warn", capacity=1,
                 callgrind=False, media_workers=0):
        self.dir = wdir
        self.callgrind = callgrind
        self.media_workers = media_workers
        # 4 ports per call, plus room for the media workers' stocks of idle
        # bound pairs (up to 128 pairs each are bound ahead).
        need = max(64, calls_max * 4 + 64 + 512 * max(2, media_workers))
        for attempt in range(5):
            try:
                self._start(binary, wdir, agents, need, log_level, capacity, callgrind)
                return
            except RuntimeError:
                if attempt == 4:
                    raise
                log(f"engine did not start (port clash?); retrying; see {wdir}/engine.log")

    def _start(self, binary, wdir, agents, need, log_level, capacity, callgrind):
        import random

        # RTP range, at a random offset so parallel runs do not contend for
        # ports. The media workers bind stocks of pairs ahead of calls, so a
        # small run (the test suite's load smoke) stays in 61000-65534:
        # above the Rust tests' port blocks (20000-59999) and the default
        # ephemeral range (to 60999). Big runs take 17000-65000 (above the
        # SIPp/Kamailio signaling ports, 12000-16999).
        if need <= 65534 - 61000:
            lo = random.randrange(61000, 65534 - need + 1, 4)
        else:
            need = min(need, 65000 - 17000)
            lo = random.randrange(17000, 65000 - need + 1, 4)
        self.rtp = (lo, lo + need)
        self.sip_port = free_port_block(2, start=15000, stop=15999, step=2)
        self.admin_port = self.sip_port + 1
        cfg = os.path.join(wdir, "switchboard.toml")
        write_config(cfg, self.sip_port, self.admin_port, agents, self.rtp, capacity=capacity,
                     media_workers=self.media_workers)
        if subprocess.run([binary, "--check", cfg], capture_output=True).returncode != 0:
            # An engine build older than the [overload] section.
            write_config(cfg, self.sip_port, self.admin_port, agents, self.rtp,
                         capacity=capacity, overload=False, media_workers=self.media_workers)
        self.log = open(os.path.join(wdir, "engine.log"), "w")
        env = dict(os.environ, RUST_LOG=log_level)
        cmd = [binary, "--config", cfg]
        if callgrind:
            # Instruction counts (stable on a noisy machine); counting starts
            # at callgrind_start() and is dumped by callgrind_dump().
            cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                   f"--callgrind-out-file={wdir}/callgrind.out", *cmd]
        self.proc = spawn(cmd, cwd=wdir, env=env, stdout=self.log, stderr=self.log)
        self.pid = self.proc.pid
        for _ in range(600 if callgrind else 200):
            try:
                if self.http("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        raise RuntimeError(f"engine did not start; see {wdir}/engine.log")

    @property
    def addr(self):
        return f"127.0.0.1:{self.sip_port}"

    def http(self, path):
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.admin_port}{path}", timeout=10
        ) as r:
            return r.status, r.read()

    def status(self):
        return json.loads(self.http("/api/v1/status")[1])

    def cpu(self):
        return proc_cpu_seconds(self.pid)

    def rss(self):
        return proc_rss_bytes(self.pid)

    def cdrs(self):
        try:
            with open(os.path.join(self.dir, "cdr.jsonl")) as f:
                return [json.loads(line) for line in f if line.strip()]
        except OSError:
            return []

    def callgrind_start(self):
        if self.callgrind:
            subprocess.run(["callgrind_control", "-i", "on", str(self.pid)], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def callgrind_dump(self):
        """Stops counting and returns the total instructions counted."""
        if not self.callgrind:
            return 0
        subprocess.run(["callgrind_control", "-i", "off", str(self.pid)], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["callgrind_control", "-d", str(self.pid)], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        total = 0
        for fn in glob.glob(os.path.join(self.dir, "callgrind.out*")):
            with open(fn) as f:
                for line in f:
                    if line.startswith("summary:") or line.startswith("totals:"):
                        total = max(total, int(line.split()[1]))
        return total

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ---------------------------------------------------------------- SIPp


def sipp_base(target, scenario, wdir, port, extra=()):
    return [
        "sipp",
        target,
        "-sf",
        os.path.join(SCENARIOS, scenario),
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-nostdin",
        "-trace_err",
        "-error_file",
        os.path.join(wdir, f"{scenario}.{port}.err"),
        *extra,
    ]


def register_agents(engine, n, uas_ports, rate=400):
    """Registers agents 0..n with SIPp (CSV injection), agent i's Contact on
    uas_ports[i % len(uas_ports)]. Waits until the engine has n bindings."""
    csv_path = os.path.join(engine.dir, "agents.csv")
    with open(csv_path, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(n):
            a = agent_id(i)
            port = uas_ports[i % len(uas_ports)]
            f.write(f"{a};[authentication username={a} password=pw{a}];{port}\n")
    port = free_port_block(1, start=14000, stop=14999)
    args = sipp_base(
        engine.addr,
        "agents-register.xml",
        engine.dir,
        port,
        ["-inf", csv_path, "-m", str(n), "-r", str(rate), "-l", "200",
         "-timeout", "120s", "-timeout_error"],
    )
    p = spawn(args, cwd=engine.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rc = p.wait()
    if rc != 0:
        raise RuntimeError(f"agent registration failed (sipp exit {rc}); see {engine.dir}")
    deadline = time.time() + 30
    while time.time() < deadline:
        if len(engine.status().get("registrations", {})) >= n:
            return
        time.sleep(0.2)
    raise RuntimeError("not every agent registered")


def start_uas(target, wdir, port, mport, echo=True):
    extra = ["-mp", str(mport), "-bind_local"]
    if echo:
        extra.append("-rtp_echo")
    args = sipp_base(target, "agent-uas.xml", wdir, port, extra)
    return spawn(args, cwd=wdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Carriers:
    """K SIPp carrier processes sharing a rate; their statistics summed."""

    def __init__(self, target, wdir, rate, calls, hold_ms, k=1, rtp=False, limit=None,
                 timeout=None, service="5000"):
        self.wdir = wdir
        os.makedirs(wdir, exist_ok=True)
        self.procs = []
        self.k = k
        scen = "carrier-rtp.xml" if rtp else "carrier.xml"
        if rtp:
            make_audio(os.path.join(wdir, "load-audio.pcma"))
        base = free_port_block(2 * k, start=13000, stop=13999, step=2 * k)
        per_rate = rate / k
        for i in range(k):
            n = calls // k + (1 if i < calls % k else 0)
            extra = [
                "-s", service,
                "-r", f"{per_rate:g}", "-rp", "1000",
                "-m", str(n),
                "-d", str(hold_ms),
                "-mp", str(base + k + i),
                "-trace_stat", "-fd", "1", "-stat_delimiter", ";",
                "-trace_rtt", "-rtt_freq", "1",
                "-max_socket", "4096",
            ]
            if limit:
                extra += ["-l", str(max(1, limit // k))]
            if timeout:
                extra += ["-timeout", f"{timeout}s"]
            if rtp:
                extra += ["-rtp_threadtasks", "200"]
            d = os.path.join(wdir, f"carrier{i}")
            os.makedirs(d, exist_ok=True)
            if rtp:
                shutil.copy(os.path.join(wdir, "load-audio.pcma"), d)
            args = sipp_base(target, scen, d, base + i, extra)
            self.procs.append(spawn(args, cwd=d, stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(d, "stderr"), "w")))

    def running(self):
        return any(p.poll() is None for p in self.procs)

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.time() + timeout
        for p in self.procs:
            left = None if deadline is None else max(0.1, deadline - time.time())
            try:
                p.wait(timeout=left)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGUSR1)  # SIPp: stop placing calls, finish
                p.wait(timeout=30)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGUSR1)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()

    def stats(self):
        """Summed last row of each SIPp's -trace_stat CSV."""
        out = {"created": 0, "success": 0, "failed": 0, "retrans": 0, "current": 0,
               "elapsed": 0.0}
        for i in range(self.k):
            files = glob.glob(os.path.join(self.wdir, f"carrier{i}", "*_.csv"))
            if not files:
                continue
            rows = list(csv.reader(open(files[0]), delimiter=";"))
            if len(rows) < 2:
                continue
            head, last = rows[0], rows[-1]
            row = dict(zip(head, last))

            def num(k):
                try:
                    return float(row.get(k, "0") or 0)
                except ValueError:
                    return 0.0

            out["created"] += int(num("TotalCallCreated"))
            out["success"] += int(num("SuccessfulCall(C)"))
            out["failed"] += int(num("FailedCall(C)"))
            out["retrans"] += int(num("Retransmissions(C)"))
            out["current"] += int(num("CurrentCall"))
            out["elapsed"] = max(out["elapsed"], elapsed_seconds(row.get("ElapsedTime(C)", "")))
        return out

    def current_calls(self):
        """Live calls right now (each SIPp's latest stat row, summed)."""
        total = 0
        for i in range(self.k):
            files = glob.glob(os.path.join(self.wdir, f"carrier{i}", "*_.csv"))
            if not files:
                continue
            try:
                with open(files[0]) as f:
                    rows = list(csv.reader(f, delimiter=";"))
                row = dict(zip(rows[0], rows[-1]))
                total += int(float(row.get("CurrentCall", "0") or 0))
            except (OSError, IndexError, ValueError):
                pass
        return total

    def setup_times_ms(self):
        """Every INVITE→200 time (ms) from -trace_rtt."""
        out = []
        for i in range(self.k):
            for fn in glob.glob(os.path.join(self.wdir, f"carrier{i}", "*_rtt.csv")):
                with open(fn) as f:
                    for line in f:
                        parts = line.strip().split(";")
                        if len(parts) >= 2:
                            try:
                                out.append(float(parts[1]))
                            except ValueError:
                                pass
        out.sort()
        return out


def elapsed_seconds(s):
    """SIPp's 'HH:MM:SS:mmm000' (or with a dot) as seconds."""
    parts = s.replace(".", ":").split(":")
    try:
        h, m, sec = int(parts[0]), int(parts[1]), int(parts[2])
        frac = int(parts[3][:3]) / 1000 if len(parts) > 3 else 0.0
        return h * 3600 + m * 60 + sec + frac
    except (ValueError, IndexError):
        return 0.0


def make_audio(path, seconds=2):
    """Raw G.711 A-law (a quiet 400 Hz tone) for SIPp's rtp_stream."""
    import math

    def alaw(sample):
        sign = 0x80 if sample >= 0 else 0
        if sample < 0:
            sample = -sample - 1
        sample = min(sample, 32635)
        if sample >= 256:
            exp = 7
            mask = 0x4000
            while not sample & mask and exp > 1:
                exp -= 1
                mask >>= 1
            mant = (sample >> (exp + 3)) & 0x0F
            val = (exp << 4) | mant
        else:
            val = sample >> 4
        return (val | sign) ^ 0x55

    data = bytes(
        alaw(int(3000 * math.sin(2 * math.pi * 400 * i / 8000))) for i in range(8000 * seconds)
    )
    with open(path, "wb") as f:
        f.write(data)


def histogram_quantiles(metrics_text, name, label):
    """p50 and p99 (seconds, interpolated inside Prometheus buckets) and the
    count of histogram `name` whose labels contain `label` (e.g.
    'trigger="agent_free"'); None when it has no samples."""
    buckets = []
    for line in metrics_text.splitlines():
        if not line.startswith(name + "_bucket{") or label not in line:
            continue
        le = line.split('le="', 1)[1].split('"', 1)[0]
        bound = float("inf") if le == "+Inf" else float(le)
        buckets.append((bound, float(line.rsplit(" ", 1)[1])))
    buckets.sort()
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]

    def q(p):
        want, lo, below = p * total, 0.0, 0.0
        for bound, cum in buckets:
            if cum >= want:
                if bound == float("inf"):
                    return lo
                inside = cum - below
                return lo + (bound - lo) * ((want - below) / inside if inside else 1.0)
            lo, below = bound, cum
        return lo

    return q(0.5), q(0.99), int(total)


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    i = round((len(sorted_vals) - 1) * p)
    return sorted_vals[i]
