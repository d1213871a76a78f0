//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package data

import (
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

const mmapSupported = true

// mmapFile maps the first size bytes of f read-only, for random access.
func mmapFile(f *os.File, size int64) ([]byte, error) {
	if int64(int(size)) != size {
		return nil, unix.EFBIG
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	_ = unix.Madvise(mem, unix.MADV_RANDOM) // no read-ahead: touch only the pages read
	return mem, nil
}

func munmap(mem []byte) error { return unix.Munmap(mem) }

// copyMapped copies src into dst and reports false if that faulted (the
// file behind the mapping has shrunk: SIGBUS) instead of crashing.
func copyMapped(dst, src []byte) (ok bool) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			ok = false
		}
	}()
	copy(dst, src)
	return true
}
