// Package host owns the node facts and filesystem usage that come neither from
// the runtime nor from cgroups: boot time, pid limits (rlimit), the node
// filesystem (statfs of the kubelet root directory), and per pod the volume
// usage, container log usage and etc-hosts file that make up ephemeral storage.
// Directory usage is measured by a background walker on a period, never on the
// scrape path; a scrape only reads the walker's last results. Volumes and
// etc-hosts are walked on Options.WalkPeriod, container log directories on
// their own, shorter Options.LogWalkPeriod (the receiver sets it to the
// collection interval): the runtime provider leaves logs to this walker.
// Each volume is measured as its kubelet plugin does: local directories by
// walking, CSI and other mounted volumes by statfs of their own mount (see
// walkVolumes).
package host
