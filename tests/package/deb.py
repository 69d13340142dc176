"""The Debian package, built and installed as a user would (ctest label "package").

Makes hookwire_VERSION_ARCH.deb with CPack from the build tree under test (VERSION read from
project() in CMakeLists.txt), checks what it holds (the four programs and nothing else in
bin, a man page per program naming every option of its --help, the examples, the systemd
units naming /usr/bin, passing systemd-analyze verify and rated OK by its security) and
its control fields (a Depends on the package of every library the programs link, as
dpkg -S names them here). Then installs it with `apt-get install
./hookwire_*.deb` in a clean Debian 12 root (a debootstrap minbase chroot, cached as a tar
under the build tree so a rerun skips debootstrap), where apt must pull in the libraries,
and runs each program's --help from PATH there and the relay itself (its event loop is a
plugin lws loads at run time); finally purges it. Needs root; without
root it is skipped (exit 77) except under CI=1, where it fails.

Environment: HW_BUILD (the build tree), HW_SOURCE (the source tree).
"""

import gzip
import os
import re
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
from hw_checks import CheckFailed, check, check_eq  # noqa: E402

SOURCE = os.path.abspath(os.environ.get("HW_SOURCE") or os.path.dirname(os.path.dirname(HERE)))
BUILD = os.path.abspath(os.environ.get("HW_BUILD") or os.path.join(SOURCE, "build"))
WORK = os.path.join(BUILD, "package-test")
ROOT = os.path.join(WORK, "root")
PROGRAMS = ["hookwire-agent", "hookwire-receiver", "hookwire-relay", "hookwire-replay"]
UNITS = ["hookwire-receiver.service", "hookwire-relay.service"]
EXAMPLES = ["Caddyfile", "Caddyfile.receiver", "README.md", "agent.ini", "app.py",
            "receiver.ini", "relay.ini"]
SUITE = "bookworm"
# PATH as a login shell in the chroot has it: the programs must be found there, not in build/.
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEBOOTSTRAP_TIMEOUT = 900
APT_TIMEOUT = 600


def sh(args, timeout=120, **kw):
    """Runs args; returns the CompletedProcess (text, both streams captured)."""
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


def sh_ok(args, what, timeout=120, **kw):
    """Runs args and fails the test unless it exits 0; returns its stdout."""
    r = sh(args, timeout=timeout, **kw)
    check(r.returncode == 0, "%s: exit %d" % (what, r.returncode),
          (r.stdout + r.stderr)[-3000:])
    return r.stdout


def in_root(*args, timeout=120):
    """Runs args inside the chroot with a clean environment and the standard PATH."""
    return sh(["chroot", ROOT, "/usr/bin/env", "-i", "PATH=" + CHROOT_PATH, "LC_ALL=C.UTF-8",
               "DEBIAN_FRONTEND=noninteractive"] + list(args), timeout=timeout)


def project_version():
    with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
        m = re.search(r"project\(\s*hookwire\s+VERSION\s+([0-9][0-9.]*)", f.read())
    check(m is not None, "CMakeLists.txt has project(hookwire VERSION ...)")
    return m.group(1)


def build_package():
    """CPack over the tested build tree; returns the path of the one .deb it made."""
    out = os.path.join(WORK, "out")
    shutil.rmtree(out, ignore_errors=True)
    sh_ok(["cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"),
           "-B", out], "cpack", timeout=600, cwd=BUILD)
    arch = sh_ok(["dpkg", "--print-architecture"], "dpkg --print-architecture").strip()
    debs = sorted(n for n in os.listdir(out) if n.endswith(".deb"))
    check_eq(debs, ["hookwire_%s_%s.deb" % (project_version(), arch)],
             "cpack made one package named after project()'s VERSION")
    return os.path.join(out, debs[0])


def control_fields(deb):
    fields = {}
    key = None
    for line in sh_ok(["dpkg-deb", "-f", deb], "dpkg-deb -f").splitlines():
        if line.startswith(" ") and key:
            fields[key] += "\n" + line
        elif ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def needed_packages(tree):
    """The host's packages holding each library the programs in tree/usr/bin link."""
    sonames = set()
    for prog in PROGRAMS:
        out = sh_ok(["objdump", "-p", os.path.join(tree, "usr/bin", prog)], "objdump -p")
        sonames |= set(re.findall(r"^\s*NEEDED\s+(\S+)", out, re.M))
    check(any(s.startswith("libwebsockets.so.") for s in sonames),
          "the programs link libwebsockets", sorted(sonames))
    # Where the dynamic linker finds each one here (ldd on the built programs), so dpkg -S
    # is asked for that multiarch directory only (libc.so.6 is also in libc6-i386 etc.).
    found = {}
    for prog in PROGRAMS:
        out = sh_ok(["ldd", os.path.join(BUILD, "bin", prog)], "ldd " + prog)
        found.update(re.findall(r"^\s*(\S+) => (/\S+)", out, re.M))
    pkgs = {}
    for so in sorted(sonames):
        check(so in found, "ldd finds " + so)
        out = sh_ok(["dpkg", "-S", "*/%s/%s" % (os.path.basename(os.path.dirname(found[so])),
                                                so)], "dpkg -S " + so)
        owners = {line.split(":")[0] for line in out.splitlines()
                  if not line.startswith("diversion")}
        check_eq(len(owners), 1, "one package holds " + so + ": " + out)
        pkgs[so] = owners.pop()
    return pkgs


def check_unit(tree, unit):
    """systemd-analyze: the unit as packaged verifies cleanly (pointed at the extracted copy
    of its program, not at whatever /usr/bin holds here) and its hardening rates OK."""
    tool = shutil.which("systemd-analyze")
    check(tool is not None, "systemd-analyze is installed")
    with open(os.path.join(tree, "usr/lib/systemd/system", unit)) as f:
        text = f.read()
    path = os.path.join(WORK, unit)
    with open(path, "w") as f:
        f.write(text.replace("/usr/bin/hookwire-", os.path.join(tree, "usr/bin/hookwire-")))
    r = sh([tool, "verify", path], timeout=60)
    check_eq((r.returncode, r.stderr.strip()), (0, ""), "systemd-analyze verify " + unit)
    r = sh([tool, "security", "--offline=yes", path], timeout=60)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", r.stdout)
    check(m is not None, "systemd-analyze security scored " + unit, r.stdout[-500:])
    check(float(m.group(1)) <= 2.0, "%s: exposure %s %s is at most 2.0" % (
        unit, m.group(1), m.group(2)))
    os.unlink(path)


def check_contents(deb):
    """The files in the package and its control fields."""
    listing = sh_ok(["dpkg-deb", "-c", deb], "dpkg-deb -c")
    files = sorted(line.split()[-1].lstrip(".") for line in listing.splitlines()
                   if line.startswith("-"))
    expected = (["/usr/bin/" + p for p in PROGRAMS] +
                ["/usr/lib/systemd/system/" + u for u in UNITS] +
                ["/usr/share/doc/hookwire/README.md"] +
                ["/usr/share/doc/hookwire/examples/" + e for e in EXAMPLES] +
                ["/usr/share/man/man1/%s.1.gz" % p for p in PROGRAMS])
    check_eq(files, sorted(expected), "files in the package")
    # Nothing else the build makes (tests, tools, benchmarks, fuzzers) is in it.
    built = sorted(os.listdir(os.path.join(BUILD, "bin")))
    check(len(built) > len(PROGRAMS), "the build tree has test programs to leave out", built)
    for name in built:
        if name not in PROGRAMS:
            check(not any(f.endswith("/" + name) for f in files), name + " is not packaged")

    tree = os.path.join(WORK, "contents")
    shutil.rmtree(tree, ignore_errors=True)
    sh_ok(["dpkg-deb", "-x", deb, tree], "dpkg-deb -x")
    for prog in PROGRAMS:
        # The man page says what --help says: every option of the program is on its page.
        with gzip.open(os.path.join(tree, "usr/share/man/man1/%s.1.gz" % prog), "rt") as f:
            page = f.read()
        check(re.search(r'(?m)^\.TH "?%s"? "?1"?' % re.escape(prog.upper()), page),
              "%s.1 is a section-1 man page" % prog, page[:300])
        text = page.replace("\\-", "-")
        helptext = sh_ok([os.path.join(BUILD, "bin", prog), "--help"], prog + " --help")
        options = sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", helptext)))
        check(len(options) >= 3, prog + " --help lists options", helptext[:300])
        missing = [o for o in options if o not in text]
        check_eq(missing, [], "options of %s --help missing from %s.1" % (prog, prog))
    for unit in UNITS:
        with open(os.path.join(tree, "usr/lib/systemd/system", unit)) as f:
            m = re.search(r"(?m)^ExecStart=(\S+)", f.read())
        check(m is not None, unit + " has ExecStart")
        check_eq(m.group(1), "/usr/bin/" + unit[:-len(".service")],
                 unit + " runs the packaged program")
        check_unit(tree, unit)

    fields = control_fields(deb)
    check_eq(fields.get("Package"), "hookwire", "Package")
    check_eq(fields.get("Version"), project_version(), "Version")
    check_eq(fields.get("Architecture"),
             sh_ok(["dpkg", "--print-architecture"], "arch").strip(), "Architecture")
    check(re.fullmatch(r".+ <[^@>\s]+@[^>\s]+>", fields.get("Maintainer", "")),
          "Maintainer is NAME <EMAIL>", fields.get("Maintainer"))
    check("\n" in fields.get("Description", ""), "Description has a long part")
    check("Homepage" not in fields, "no Homepage field")
    depends = {d.strip().split()[0] for d in fields.get("Depends", "").split(",") if d.strip()}
    for so, pkg in needed_packages(tree).items():
        check(pkg.split(":")[0] in depends, "Depends names %s (holds %s)" % (pkg, so),
              fields.get("Depends"))
    shutil.rmtree(tree, ignore_errors=True)
    return depends


def host_sources():
    """The host's Debian archive entries for the suite: (uri, suite, components) in order."""
    entries = []
    paths = ["/etc/apt/sources.list"]
    d = "/etc/apt/sources.list.d"
    if os.path.isdir(d):
        paths += [os.path.join(d, n) for n in sorted(os.listdir(d))
                  if n.endswith((".list", ".sources"))]
    for path in paths:
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            text = f.read()
        if path.endswith(".sources"):  # deb822 stanzas
            for stanza in re.split(r"\n\s*\n", text):
                st = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line or line[0].isspace():
                        continue
                    k, _, v = line.partition(":")
                    st[k.strip().lower()] = v.split()
                if "deb" not in st.get("types", []) or st.get("enabled", ["yes"]) == ["no"]:
                    continue
                for uri in st.get("uris", []):
                    for suite in st.get("suites", []):
                        entries.append((uri, suite, st.get("components", ["main"])))
        else:
            for line in text.splitlines():
                line = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
                if len(line) >= 3 and line[0] == "deb":
                    entries.append((line[1], line[2], line[3:] or ["main"]))
    return [e for e in entries if e[1] == SUITE or e[1].startswith(SUITE + "-")]


def clean_root(mirror):
    """A fresh minbase root at ROOT, from the cached tar (made by debootstrap if missing)."""
    cache = os.path.join(WORK, "%s-minbase-%s.tar" % (
        SUITE, re.sub(r"[^A-Za-z0-9.]+", "_", mirror).strip("_")))
    shutil.rmtree(ROOT, ignore_errors=True)
    if not os.path.exists(cache):
        check(shutil.which("debootstrap") is not None,
              "debootstrap is installed (scripts/install-deps)")
        t0 = time.monotonic()
        made = ROOT + ".new"
        shutil.rmtree(made, ignore_errors=True)
        sh_ok(["debootstrap", "--variant=minbase", SUITE, made, mirror],
              "debootstrap --variant=minbase %s %s" % (SUITE, mirror),
              timeout=DEBOOTSTRAP_TIMEOUT)
        sh_ok(["tar", "-C", made, "-cf", cache + ".part", "."], "tar the new root", timeout=300)
        os.rename(cache + ".part", cache)
        shutil.rmtree(made, ignore_errors=True)
        print("debootstrap made and cached %s (%.0fs)" % (cache, time.monotonic() - t0))
    os.makedirs(ROOT)
    sh_ok(["tar", "-C", ROOT, "-xf", cache], "untar the cached root", timeout=300)


def install_in_root(deb, depends):
    entries = host_sources()
    check(entries, "the host's apt sources name a %s archive" % SUITE)
    mirror = next((u for u, s, _ in entries if s == SUITE), None)
    check(mirror is not None, "the host's apt sources name %s itself" % SUITE, entries)
    t0 = time.monotonic()
    clean_root(mirror)
    print("clean root ready (%.0fs)" % (time.monotonic() - t0))

    with open(os.path.join(ROOT, "etc/apt/sources.list"), "w") as f:
        for uri, suite, comps in entries:
            f.write("deb %s %s %s\n" % (uri, suite, " ".join(comps)))
    shutil.copy("/etc/resolv.conf", os.path.join(ROOT, "etc/resolv.conf"))
    policy = os.path.join(ROOT, "usr/sbin/policy-rc.d")
    with open(policy, "w") as f:
        f.write("#!/bin/sh\nexit 101\n")
    os.chmod(policy, 0o755)
    shutil.copy(deb, os.path.join(ROOT, "tmp"))
    name = os.path.basename(deb)

    # Before: none of it there, so what runs below came from the package and apt.
    for prog in PROGRAMS:
        check(in_root("sh", "-c", "command -v " + prog).returncode != 0,
              prog + " is not on PATH in the clean root")
    libs = sorted(d for d in depends if d != "libc6")
    for lib in libs:
        r = in_root("dpkg-query", "-W", "-f", "${Status}", lib)
        check("install ok installed" not in r.stdout, lib + " is not in the clean root")

    t0 = time.monotonic()
    r = in_root("apt-get", "update", "-q", timeout=APT_TIMEOUT)
    check_eq(r.returncode, 0, "apt-get update in the root: " + (r.stdout + r.stderr)[-2000:])
    # As a user types it, from the directory holding the file.
    r = in_root("sh", "-c", "cd /tmp && apt-get install -y -q ./" + name,
                timeout=APT_TIMEOUT)
    check_eq(r.returncode, 0, "apt-get install ./%s: %s" % (name, (r.stdout + r.stderr)[-3000:]))
    print("apt-get update + install (%.0fs)" % (time.monotonic() - t0))

    for lib in libs:
        r = in_root("dpkg-query", "-W", "-f", "${Status}", lib)
        check_eq(r.stdout, "install ok installed", "apt installed " + lib)
    for prog in PROGRAMS:
        r = in_root("sh", "-c", "command -v " + prog)
        check_eq((r.returncode, r.stdout.strip()), (0, "/usr/bin/" + prog),
                 prog + " is on PATH from the package")
        r = in_root(prog, "--help")
        check_eq(r.returncode, 0, prog + " --help exits 0 in the root: " + r.stderr[-1000:])
        check(r.stdout.startswith("usage: " + prog), prog + " --help prints its usage",
              r.stdout[:300])
        # The packaged program is this build's: it says exactly what build/bin's says.
        check_eq(r.stdout, sh_ok([os.path.join(BUILD, "bin", prog), "--help"], prog),
                 prog + " --help in the root and in the build tree")
        # --version loads every library the program links, from the root's own packages.
        r = in_root(prog, "--version")
        check_eq(r.returncode, 0, prog + " --version exits 0 in the root: " + r.stderr[-1000:])
        check(r.stdout.startswith("%s %s (libwebsockets " % (prog, project_version())),
              prog + " --version names the version and the libraries", r.stdout[:300])
    check_relay_runs()
    owned = in_root("dpkg", "-L", "hookwire").stdout.split()
    for p in PROGRAMS:
        check("/usr/share/man/man1/%s.1.gz" % p in owned, "dpkg -L lists %s.1.gz" % p)
        check(os.path.isfile(os.path.join(ROOT, "usr/share/man/man1/%s.1.gz" % p)),
              "%s.1.gz is installed" % p)
    for u in UNITS:
        check(os.path.isfile(os.path.join(ROOT, "usr/lib/systemd/system", u)), u + " installed")

    r = in_root("apt-get", "purge", "-y", "-q", "hookwire", timeout=APT_TIMEOUT)
    check_eq(r.returncode, 0, "apt-get purge hookwire: " + (r.stdout + r.stderr)[-2000:])
    for prog in PROGRAMS:
        check(not os.path.exists(os.path.join(ROOT, "usr/bin", prog)), prog + " purged")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_relay_runs():
    """The packaged relay starts and stops cleanly in the root: its event loop is lws's libuv
    event library, a plugin lws loads at run time (the package's Depends must bring it, as
    --version cannot tell: it creates no loop)."""
    script = ("hookwire-relay --listen 127.0.0.1:%d --tunnel-listen 127.0.0.1:%d "
              "--store sqlite:/tmp/relay.db 2>/tmp/relay.log & p=$!; i=0; "
              "until grep -q listening: /tmp/relay.log || [ $i -ge 200 ]; do "
              "i=$((i + 1)); sleep 0.05; done; "
              "kill -TERM $p; wait $p; rc=$?; cat /tmp/relay.log; exit $rc"
              % (free_port(), free_port()))
    r = in_root("sh", "-c", script, timeout=60)
    check_eq(r.returncode, 0, "the packaged relay stops cleanly in the root: " + r.stdout[-2000:])
    check("listening:" in r.stdout, "the packaged relay listens in the root", r.stdout[-2000:])
    in_root("rm", "-f", "/tmp/relay.db", "/tmp/relay.db-wal", "/tmp/relay.db-shm", "/tmp/relay.log")


def main():
    if os.geteuid() != 0:
        print("the package test needs root (debootstrap, chroot)")
        sys.exit(1 if os.environ.get("CI") else 77)
    os.makedirs(WORK, exist_ok=True)
    t_all = time.monotonic()
    step = "build"
    try:
        t0 = time.monotonic()
        deb = build_package()
        print("ok    build %s (%.1fs)" % (os.path.basename(deb), time.monotonic() - t0))
        step, t0 = "contents", time.monotonic()
        depends = check_contents(deb)
        print("ok    contents and control fields (%.1fs)" % (time.monotonic() - t0))
        step, t0 = "install", time.monotonic()
        install_in_root(deb, depends)
        print("ok    apt install in a clean %s root, --help from PATH, purge (%.1fs)"
              % (SUITE, time.monotonic() - t0))
    except CheckFailed as e:
        print("FAIL  %s: %s" % (step, e))
        sys.exit(1)
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)
    print("all passed (%.1fs)" % (time.monotonic() - t_all))


if __name__ == "__main__":
    main()
