#!/bin/sh
# Inside the VM node (statssummary-payload.service, baked into the image by
# hack/vm/image.sh): mount the payload disk, run its run.sh with the output in
# /payload/out/{log,rc}, unmount. The unit powers the VM off afterwards.
set -u
mkdir -p /payload
if ! mount /dev/vdb /payload; then
  echo "statssummary-payload: cannot mount /dev/vdb" >&2
  exit 1
fi
mkdir -p /payload/out
echo "statssummary-payload: running /payload/run.sh" >/dev/console
/bin/bash /payload/run.sh >/payload/out/log 2>&1
echo $? >/payload/out/rc
echo "statssummary-payload: run.sh exited $(cat /payload/out/rc)" >/dev/console
sync
umount /payload
