package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// A parTask is work split into numbered chunks. Each participant calls
// runChunks once and claims chunk indices with j.claim until none are left,
// so per-participant scratch can be taken once per call.
type parTask interface {
	runChunks(j *parJob)
}

// parJob is one call of runParallel. pending counts the helpers still
// working; the last one to finish moves state from jobRunning to
// jobDone, or, if the caller stopped spinning and moved it to
// jobWaiting, wakes it through done. That handshake is a helper's last
// touch of the job, so the caller may reuse it as soon as it sees
// jobDone.
type parJob struct {
	t       parTask
	n       int64
	next    atomic.Int64
	pending atomic.Int32
	state   atomic.Int32
	done    chan struct{}
}

const (
	jobRunning = iota
	jobWaiting
	jobDone
)

// spinWait is how long an idle worker polls for the next job, and the
// caller for its helpers, before blocking. Waking a blocked thread costs
// about 100 µs on virtual machines (a futex wake through the hypervisor),
// as much as a whole 2-thread 256×256×512 product; training calls
// kernels back to back, so a short poll keeps the helpers at hand.
const spinWait = 200 * time.Microsecond

// finish is a helper's last step of j.
func (j *parJob) finish() {
	if j.pending.Add(-1) == 0 && !j.state.CompareAndSwap(jobRunning, jobDone) {
		j.done <- struct{}{}
	}
}

// wait returns when every helper of j has finished; j had helpers.
func (j *parJob) wait() {
	t0 := time.Now()
	for j.state.Load() == jobRunning {
		if time.Since(t0) > spinWait {
			if j.state.CompareAndSwap(jobRunning, jobWaiting) {
				<-j.done
			}
			return
		}
		runtime.Gosched()
	}
}

// claim returns the next unclaimed chunk index.
func (j *parJob) claim() (int, bool) {
	i := j.next.Add(1) - 1
	return int(i), i < j.n
}

// The worker pool: persistent goroutines that help the caller of
// runParallel. Only workers known to be idle are handed a job, so a call
// never waits on a busy worker and nested calls degrade to serial.
var pool struct {
	mu      sync.Mutex
	started int
	idle    atomic.Int32
	jobs    chan *parJob
}

var jobPool = freePool{New: func() any { return &parJob{done: make(chan struct{}, 1)} }}

// A freePool is a sync.Pool that the garbage collector never empties, so
// that a kernel call in steady state allocates nothing even when the
// program around it collects garbage. It keeps at most a few items per
// core (as many as ever run at once); extra Puts are dropped.
type freePool struct {
	New   func() any
	mu    sync.Mutex
	items []any
}

// Get returns a kept item, or a new one.
func (p *freePool) Get() any {
	p.mu.Lock()
	if n := len(p.items); n > 0 {
		x := p.items[n-1]
		p.items[n-1] = nil
		p.items = p.items[:n-1]
		p.mu.Unlock()
		return x
	}
	p.mu.Unlock()
	return p.New()
}

// Put keeps x for a later Get.
func (p *freePool) Put(x any) {
	keep := 2*runtime.GOMAXPROCS(0) + 8
	p.mu.Lock()
	if len(p.items) < keep {
		if p.items == nil {
			p.items = make([]any, 0, keep)
		}
		p.items = append(p.items, x)
	}
	p.mu.Unlock()
}

func init() {
	pool.jobs = make(chan *parJob, 256)
}

func worker() {
	for {
		j := nextJob()
		j.t.runChunks(j)
		pool.idle.Add(1) // before finish: the caller may reuse us at once
		j.finish()
	}
}

// nextJob returns the next job, polling for spinWait before blocking.
func nextJob() *parJob {
	t0 := time.Now()
	for {
		select {
		case j := <-pool.jobs:
			return j
		default:
		}
		if time.Since(t0) > spinWait {
			return <-pool.jobs
		}
		runtime.Gosched()
	}
}

// ensureWorkers starts workers until there are n.
func ensureWorkers(n int) {
	if n > 255 {
		n = 255
	}
	pool.mu.Lock()
	for pool.started < n {
		pool.started++
		pool.idle.Add(1)
		go worker()
	}
	pool.mu.Unlock()
}

// takeIdle reserves one idle worker.
func takeIdle() bool {
	for {
		v := pool.idle.Load()
		if v <= 0 {
			return false
		}
		if pool.idle.CompareAndSwap(v, v-1) {
			return true
		}
	}
}

// runParallel runs t over n chunks on the caller plus up to
// GOMAXPROCS-1 idle workers, and returns when all chunks are done.
func runParallel(t parTask, n int) {
	helpers := min(runtime.GOMAXPROCS(0), n) - 1
	j := jobPool.Get().(*parJob)
	j.t, j.n = t, int64(n)
	j.next.Store(0)
	j.pending.Store(0)
	j.state.Store(jobRunning)
	got := int32(0)
	if helpers > 0 {
		ensureWorkers(runtime.GOMAXPROCS(0) - 1)
		for range helpers {
			if !takeIdle() {
				break
			}
			got++
		}
		j.pending.Store(got)
		for range got {
			pool.jobs <- j
		}
	}
	t.runChunks(j)
	if got > 0 {
		j.wait()
	}
	j.t = nil
	jobPool.Put(j)
}
