#!/usr/bin/env python3
"""systemd READY (issue 16): how long a service takes from exec to READY=1 on a fake NOTIFY_SOCKET.

    tests/IocEdge.Benchmarks/Gateway/ready.py [--runs N] [--nice N] NAME -- COMMAND...

    # the gateway, JIT (dotnet build output) then NativeAOT (publish.sh), same run, same config:
    tests/IocEdge.Benchmarks/Gateway/ready.py --runs 5 jit -- dotnet edge/IocEdge.Gateway/bin/Release/net10.0/iocedge-gateway.dll --config gw.json
    tests/IocEdge.Benchmarks/Gateway/ready.py --runs 5 aot -- artifacts/gateway/linux-x64-aot/iocedge-gateway --config gw.json

Plays systemd's side of sd_notify(3) like tests/IocEdge.Testing/FakeSystemd.cs: binds a unix datagram socket, starts
COMMAND with NOTIFY_SOCKET and WATCHDOG_USEC=1000000, waits for READY=1, then SIGTERM and waits for the exit. Per run:
exec -> READY=1, exec -> the first line the service prints, first line -> READY=1, the CPU time the process used until
READY (/proc/PID/stat utime + stime) and the longest run-queue wait of one of its threads (/proc/PID/task/*/schedstat:
time kept off the CPU by other processes), with the load average. Python 3 standard library only (/usr/bin/python3).
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def run_once(name, cmd, nice, i):
    with tempfile.TemporaryDirectory(prefix="ready-") as tmp:
        path = os.path.join(tmp, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(120)
        env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000")
        load = open("/proc/loadavg").read().split()[0]
        argv = (["nice", "-n", str(nice)] if nice else []) + cmd
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        first = []

        def read():
            for line in proc.stdout:
                if not first and line.strip():
                    first.append(time.monotonic())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        ready = None
        while ready is None:
            if "READY=1" in sock.recv(4096).decode().split("\n"):
                ready = time.monotonic()
        stat = open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        longest = 0.0
        for task in os.listdir(f"/proc/{proc.pid}/task"):
            try:
                longest = max(longest, int(open(f"/proc/{proc.pid}/task/{task}/schedstat").read().split()[1]) / 1e9)
            except OSError:
                pass
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        reader.join(5)
        sock.close()
        fl = first[0] if first else float("nan")
        print(f"{name} run {i}: load {load}: exec->READY {ready - t0:.2f} s, exec->first line {fl - t0:.2f} s, "
              f"first line->READY {ready - fl:.2f} s, CPU to READY {cpu:.2f} s, longest run-queue wait {longest:.2f} s, "
              f"exit {code}", flush=True)
        return ready - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--nice", type=int, default=0, help="start the service at this nice value (0: as is)")
    ap.add_argument("name")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        ap.error("no COMMAND after --")
    times = sorted(run_once(a.name, cmd, a.nice, i) for i in range(a.runs))
    print(f"{a.name}: exec->READY median {times[len(times) // 2]:.2f} s over {a.runs} runs", flush=True)


if __name__ == "__main__":
    sys.exit(main())
