#!/usr/bin/env bash
# Prints the directory of the cgroup v2 + systemd VM node's image — disk.img
# (ext4, the root file system), vmlinuz and initrd.img — building it into the
# per-machine cache (hack/lib/cache.sh) the first time: debootstrap of Debian
# bookworm (minbase plus systemd, dbus, runc, the CNI plugins, busybox-static,
# …) from the mirror apt is configured with, about 2–4 minutes. The image is
# never written to by a run (hack/vm/run.sh boots it with snapshot=on).
#
# What the image does at boot (the only thing it is for): systemd brings up
# the node, and statssummary-payload.service (after multi-user.target) mounts
# the second disk (/dev/vdb, made by hack/vm/run.sh) at /payload, runs
# /payload/run.sh with its output in /payload/out/, and powers the VM off.
# Debian's containerd.service is disabled: the payload runs its own.
#   usage: hack/vm/image.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/cache.sh
source "$here/../lib/cache.sh"

suite=bookworm
packages=systemd,systemd-sysv,udev,dbus,linux-image-cloud-amd64,initramfs-tools,containerd,runc,busybox-static,containernetworking-plugins,iproute2,kmod,e2fsprogs,util-linux,procps
size=4G

# The Debian mirror apt on this machine uses (deb822 sources or the classic list).
mirror() {
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -n1 || true)
  if [[ -z $uri ]]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

need() {
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
  if ((${#missing[@]})); then
    echo "vm: apt-get install ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build() {
  local out=$1 root
  root=$(mktemp -d /var/tmp/statssummary-vmroot.XXXXXX)
  # The root tree is only needed until mkfs has copied it.
  trap 'rm -rf "$root"' RETURN
  local m
  m=$(mirror)
  echo "vm: debootstrap $suite from $m" >&2
  debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$m" >"$out/debootstrap.log" 2>&1 ||
    { tail -n 30 "$out/debootstrap.log" >&2; return 1; }

  echo statssummary-vm >"$root/etc/hostname"
  echo '/dev/vda / ext4 rw 0 1' >"$root/etc/fstab"
  chroot "$root" passwd -d root >/dev/null
  # The payload starts its own containerd; Debian's would take the default
  # socket at boot. Nothing else needs to run.
  chroot "$root" systemctl disable containerd.service >/dev/null 2>&1 || true
  chroot "$root" systemctl mask containerd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true

  install -m 0755 "$here/payload-boot.sh" "$root/usr/local/sbin/statssummary-payload"
  cat >"$root/etc/systemd/system/statssummary-payload.service" <<'UNIT'
[Unit]
Description=Run the statssummary payload from /dev/vdb, then power off
After=multi-user.target dbus.service
Requires=dbus.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/statssummary-payload
ExecStopPost=/bin/systemctl --no-block poweroff
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
UNIT
  chroot "$root" systemctl enable statssummary-payload.service >/dev/null 2>&1

  cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
  cp "$root"/boot/initrd.img-* "$out/initrd.img"
  truncate -s "$size" "$out/disk.img"
  mkfs.ext4 -q -F -L statssummary-vm -d "$root" "$out/disk.img"
  du -sh "$root" | awk '{print "vm: root file system " $1}' >&2
}

need
key=$(cache_key "$0" "$here/payload-boot.sh" "$here/../lib/cache.sh" -- "$suite" "$packages" "$size")
cache_build vm-image "$key" build
