# Sourced by the bench scripts: CPU time of processes, read from /proc.

# CPU clock ticks (user + system, all threads) used so far by the processes PID...; a process
# that has exited counts 0. Fields 14 and 15 of /proc/PID/stat (the command name of every
# process measured here has no space in it).
cpu_ticks_of() {
  local t=0 q f
  for q in "$@"; do
    read -r -a f 2>/dev/null <"/proc/$q/stat" && t=$((t + f[13] + f[14]))
  done
  echo "$t"
}

# TICKS as seconds, one decimal.
ticks_to_seconds() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", t / hz}'; }
