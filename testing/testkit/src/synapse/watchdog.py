# Runs Synapse as a child and stops it when our standard input closes.
#
# The Rust launcher holds the write end of our stdin. When the launcher's process ends for any
# reason (normal exit, panic, SIGKILL), the kernel closes that pipe, we read EOF and terminate
# Synapse, so no stray homeserver survives a test binary. This needs no unsafe code in Rust
# (PR_SET_PDEATHSIG would need a pre_exec hook) and, unlike PDEATHSIG, does not fire when the
# spawning *thread* ends.
import signal
import subprocess
import sys
import threading

child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)


def stop(*_):
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()


def watch_stdin():
    try:
        while sys.stdin.buffer.read(1):
            pass
    except Exception:
        pass
    stop()


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
threading.Thread(target=watch_stdin, daemon=True).start()
sys.exit(child.wait())
