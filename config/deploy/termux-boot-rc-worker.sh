#!/data/data/com.termux/files/usr/bin/sh
# Termux:Boot script: starts the worker when the phone boots.
#   mkdir -p ~/.termux/boot ~/rc
#   cp termux-boot-rc-worker.sh ~/.termux/boot/rc-worker && chmod 700 ~/.termux/boot/rc-worker
#   printf 'RC_JOIN=nas:8080\nRC_JOIN_TOKEN=<the join token>\n' > ~/rc/worker.env && chmod 600 ~/rc/worker.env
#   curl -fsSLo ~/rc/rc-worker.js http://nas:5000/worker.js
# Android kills background apps: the wake lock keeps the CPU up, and the loop
# restarts the worker if the OS kills it anyway (its outbox keeps finished results).
termux-wake-lock
cd "$HOME/rc" || exit 1
set -a
. "$HOME/rc/worker.env"
set +a
export RC_DATA_DIR="$HOME/rc/state"
while true; do
  node "$HOME/rc/rc-worker.js" >> "$HOME/rc/worker.log" 2>&1
  echo "rc-worker exited ($?); restarting in 10 s" >> "$HOME/rc/worker.log"
  sleep 10
done
