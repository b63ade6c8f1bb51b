# shellcheck shell=bash
# Helpers shared by the demos (scripts/demo.sh, scripts/demo-cluster.sh).

# say TEXT: a bold step heading.
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# demo_sleep SECONDS: a pause that a trapped Ctrl-C cuts short. The sleep runs
# in the background and is waited for: the `wait` builtin returns at once on
# a trapped signal and runs the trap, where bash drops a Ctrl-C that reaches
# a foreground command which then exits normally (sleep, curl, python).
demo_sleep() { sleep "$1" & wait $! || true; }
