#!/usr/bin/env bash
# Dr.Jit's LLVM backend (Mitsuba 3's llvm_ad_rgb variant, the `render3d` extra) needs LLVM 19; Debian 12's
# LLVM 14/15 crash it. Installs Debian's libllvm19 when it is missing (as root or with passwordless sudo).
set -u
ls /usr/lib/*/libLLVM-19.so* /usr/lib/*/libLLVM.so.19* >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi
if ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libllvm19) >/dev/null 2>&1; then
  exit 0
fi
echo "warning: could not install libllvm19; Mitsuba's llvm_ad_rgb variant (semadv[render3d]) will not load" >&2
exit 0
