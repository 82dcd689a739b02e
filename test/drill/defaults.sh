#!/bin/sh
# Sysctls every corpus script starts from, so usnet and a fresh kernel
# namespace agree (a new namespace gets the kernel's built-in tcp_rmem,
# not the host's). Run as `./defaults.sh` from a script's first line.
sysctl -q \
  net.ipv4.tcp_rmem="4096 131072 6291456" \
  net.ipv4.tcp_wmem="4096 16384 4194304" \
  net.ipv4.tcp_timestamps=1 \
  net.ipv4.tcp_sack=1 \
  net.ipv4.tcp_window_scaling=1 \
  net.ipv4.tcp_syncookies=1 \
  net.ipv4.tcp_syn_retries=6 \
  net.ipv4.tcp_synack_retries=5 \
  net.ipv4.tcp_fin_timeout=60 \
  net.ipv4.tcp_tw_reuse=2 \
  net.ipv4.tcp_abort_on_overflow=0 \
  net.ipv4.tcp_ecn=2
