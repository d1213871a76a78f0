//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package data

import (
	"errors"
	"os"
)

// Without mmap, streams read with ReadAt.
const mmapSupported = false

func mmapFile(*os.File, int64) ([]byte, error) {
	return nil, errors.New("memory-mapping is not supported on this system")
}

func munmap([]byte) error { return nil }

func copyMapped(dst, src []byte) bool { copy(dst, src); return true }
