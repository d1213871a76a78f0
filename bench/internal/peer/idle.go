package peer

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// WaitIdle returns once process pid has used no more than one clock tick
// of CPU time in a 100 ms window, or after limit. A BLAS's worker threads
// may keep spinning after a call returns (OpenBLAS's pthreads build polls
// for up to 2^28 cycles), which would take the cores from whatever is
// timed next. Without /proc it sleeps 300 ms instead. It reports whether
// the process went idle.
func WaitIdle(pid int, limit time.Duration) bool {
	const window = 100 * time.Millisecond
	prev, err := cpuTicks(pid)
	if err != nil {
		time.Sleep(min(limit, 300*time.Millisecond))
		return false
	}
	for t0 := time.Now(); time.Since(t0) < limit; {
		time.Sleep(window)
		cur, err := cpuTicks(pid)
		if err != nil {
			return false
		}
		if cur-prev <= 1 {
			return true
		}
		prev = cur
	}
	return false
}

// cpuTicks returns the user plus system time of process pid, in clock
// ticks, from /proc/pid/stat.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("peer: unreadable /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("peer: short /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("peer: unreadable times in /proc/%d/stat", pid)
	}
	return u + st, nil
}
