#!/usr/bin/env bash
# Boots the cgroup v2 + systemd VM node (hack/vm/image.sh) under qemu with
# software emulation (TCG: KVM fails on this kind of machine), runs the
# payload directory's run.sh inside it as root, and copies what it wrote to
# /payload/out back to OUT_DIR (log, rc, and whatever run.sh put there).
# Exits with run.sh's status; 124 when the VM outlived TIMEOUT.
#   usage: hack/vm/run.sh PAYLOAD_DIR OUT_DIR [TIMEOUT_SECONDS]   (default 1800)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
payload=${1:?usage: hack/vm/run.sh PAYLOAD_DIR OUT_DIR [TIMEOUT_SECONDS]}
out=${2:?usage: hack/vm/run.sh PAYLOAD_DIR OUT_DIR [TIMEOUT_SECONDS]}
timeout_s=${3:-1800}
[[ -f $payload/run.sh ]] || { echo "vm: $payload/run.sh is missing" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "vm: building the payload disk and reading it back needs root (loop mounts); this runs as uid $EUID" >&2; exit 2; }

image=$("$here/image.sh")
mkdir -p "$out"
work=$(mktemp -d /var/tmp/statssummary-vmrun.XXXXXX)
mnt=$work/mnt
cleanup() {
  if mountpoint -q "$mnt" 2>/dev/null; then umount "$mnt"; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The payload disk: the payload's files plus room for what the run writes.
mb=$(( $(du -sm "$payload" | cut -f1) + 1024 ))
truncate -s "${mb}M" "$work/payload.img"
mkfs.ext4 -q -F -L payload -d "$payload" "$work/payload.img"

echo "vm: booting $image (TCG, 2 vCPUs, 4 GiB) with payload $payload; console in $out/console.log"
began=$SECONDS
set +e
# snapshot=on: the cached root disk is never written; the VM's writes go to a
# temporary overlay that qemu drops at exit.
timeout --foreground "$timeout_s" qemu-system-x86_64 \
  -accel tcg,thread=multi -cpu max -m 4096 -smp 2 \
  -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 quiet systemd.unified_cgroup_hierarchy=1" \
  -drive "file=$image/disk.img,format=raw,if=virtio,snapshot=on" \
  -drive "file=$work/payload.img,format=raw,if=virtio" \
  -display none -monitor none -serial "file:$out/console.log" \
  -no-reboot -nic none
qemu_rc=$?
set -e
echo "vm: qemu exited $qemu_rc after $((SECONDS - began)) s"

mkdir -p "$mnt"
# A VM that was killed left the payload file system unclean: read it without
# replaying its journal (what the run wrote before the kill is still there).
mount -o loop,ro "$work/payload.img" "$mnt" 2>/dev/null || mount -o loop,ro,noload "$work/payload.img" "$mnt"
if [[ -d $mnt/out ]]; then
  cp -a "$mnt/out/." "$out/"
fi
umount "$mnt"

if [[ -f $out/log ]]; then
  echo "vm: ---- the payload's output ----"
  cat "$out/log"
  echo "vm: ---- end of the payload's output ----"
fi
if ((qemu_rc == 124)); then
  echo "vm: the VM outlived ${timeout_s} s; the console's tail:" >&2
  tail -n 40 "$out/console.log" >&2 || true
  exit 124
fi
if [[ ! -f $out/rc ]]; then
  echo "vm: the payload left no exit status (it did not run, or the VM died first); the console's tail:" >&2
  tail -n 40 "$out/console.log" >&2 || true
  exit 1
fi
exit "$(cat "$out/rc")"
