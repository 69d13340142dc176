#!/usr/bin/env python3
"""The option tables, --help and the example configs stay in step: every key of
examples/PROGRAM.ini is an option of PROGRAM, every option appears there and in
--help."""
import os
import re
import subprocess
import sys

BIN = os.environ["HW_BIN"]
SRC = os.environ["HW_SOURCE"]


def ini_keys(text, section):
    keys, current = [], None
    for line in text.splitlines():
        m = re.match(r"^;?\s*\[(.+)\]$", line.strip())
        if m:
            current = m.group(1)
            continue
        m = re.match(r"^;?\s*([a-z][a-z0-9-]*)\s*=", line)
        if m and current == section:
            keys.append(m.group(1))
    return keys


def check(program, section):
    env = dict(os.environ, HOOKWIRE_TOKEN="hwt_x", HOOKWIRE_RELAY="ws://127.0.0.1:1")
    exe = os.path.join(BIN, program)
    generated = subprocess.run([exe, "--example-config"], capture_output=True, text=True,
                               env=env, check=True).stdout
    options = ini_keys(generated, section)
    assert len(options) >= 5, generated
    with open(os.path.join(SRC, "examples", section + ".ini")) as f:
        example = ini_keys(f.read(), section)
    assert sorted(example) == sorted(options), (program, sorted(set(example) ^ set(options)))
    helptext = subprocess.run([exe, "--help"], capture_output=True, text=True, env=env,
                              check=True).stdout
    for opt in options:
        assert "--" + opt in helptext, (program, opt)
    print("%s: %d options in step with examples/%s.ini and --help" % (program, len(options),
                                                                      section))


check("hookwire-relay", "relay")
check("hookwire-agent", "agent")
check("hookwire-receiver", "receiver")
