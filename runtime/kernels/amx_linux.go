//go:build amd64 && !purego

package kernels

import "syscall"

// amxPermitted asks Linux for the AMX tile data state of this process
// (arch_prctl ARCH_REQ_XCOMP_PERM with XFEATURE_XTILEDATA), without which
// the first tile instruction faults. It reports whether Linux agreed.
func amxPermitted() bool {
	const archReqXcompPerm, xfeatureXtiledata = 0x1023, 18
	_, _, errno := syscall.RawSyscall(syscall.SYS_ARCH_PRCTL, archReqXcompPerm, xfeatureXtiledata, 0)
	return errno == 0
}
