package controllers

import (
	"container/heap"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"
)

// readPacer schedules one host's paced config reads: the periodic drift
// reads of settled Applications, and after a restart the first read of
// every Application the operator already knew. It replaces a timer per
// Application: settled Applications are not requeued; the pacer keeps them
// ordered by when their next read is due and wakes each when its turn has
// come, at most rate per second, so the work it causes does not grow with
// the number of Applications. Urgent reads (a spec that changed while the
// operator was down) go first, and drift reads leave them headroom in the
// budget, so they rarely wait at all.
type readPacer struct {
	mu      sync.Mutex
	limiter *rate.Limiter
	// headroom is the tokens drift reads leave in the bucket for urgent ones.
	headroom float64
	urgent   []*pacedRead // FIFO; entries no longer in lanes are skipped
	nUrgent  int          // the live ones among them
	drift    driftQueue
	lanes    map[types.UID]*pacedRead
	// granted holds reads granted whose Application has not taken them yet.
	granted map[types.UID]struct{}
	timer   *time.Timer
	wake    func(types.NamespacedName)
	now     func() time.Time
	closed  bool
}

// pacedRead is one Application waiting for its read.
type pacedRead struct {
	uid    types.UID
	key    types.NamespacedName
	due    time.Time
	urgent bool
	index  int // in drift; -1 when urgent
}

// newReadPacer paces reads at rps per second. The bucket holds twenty
// seconds of budget, so after a restart the specs changed meanwhile (a
// handful, typically) are read at once rather than one per 1/rps; drift
// reads only use its upper half, which leaves the lower half to them.
func newReadPacer(rps float64, wake func(types.NamespacedName)) *readPacer {
	burst := max(2, int(math.Ceil(20*rps)))
	return &readPacer{
		limiter:  rate.NewLimiter(rate.Limit(rps), burst),
		headroom: float64(burst / 2),
		lanes:    map[types.UID]*pacedRead{},
		granted:  map[types.UID]struct{}{},
		wake:     wake,
		now:      time.Now,
	}
}

// ask says whether uid may read its config now. If not, uid is queued:
// urgent ones first, in order of asking; the others once due, in order of
// due time. The pacer wakes key when the read is granted; asking again
// then returns true. Asking again while queued only moves a drift read's
// due time (or makes it urgent).
func (p *readPacer) ask(uid types.UID, key types.NamespacedName, urgent bool, due time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.granted[uid]; ok {
		delete(p.granted, uid)
		return true
	}
	now := p.now()
	q, queued := p.lanes[uid]
	if urgent && !queued && p.urgentLen() == 0 && p.limiter.AllowN(now, 1) {
		return true
	}
	switch {
	case queued && q.urgent:
	case queued && urgent:
		heap.Remove(&p.drift, q.index)
		p.pushUrgent(q)
	case queued:
		q.key = key
		if !q.due.Equal(due) {
			q.due = due
			heap.Fix(&p.drift, q.index)
		}
	case urgent:
		p.pushUrgent(&pacedRead{uid: uid, key: key, due: now})
	default:
		q = &pacedRead{uid: uid, key: key, due: due}
		p.lanes[uid] = q
		heap.Push(&p.drift, q)
	}
	p.arm(now)
	return false
}

func (p *readPacer) pushUrgent(q *pacedRead) {
	q.urgent, q.index = true, -1
	p.lanes[q.uid] = q
	p.urgent = append(p.urgent, q)
	p.nUrgent++
}

// urgentLen is the number of urgent reads still queued; it drops entries
// that left the queue from its front on the way, so the front is live.
func (p *readPacer) urgentLen() int {
	for len(p.urgent) > 0 && p.lanes[p.urgent[0].uid] != p.urgent[0] {
		p.urgent[0] = nil
		p.urgent = p.urgent[1:]
	}
	return p.nUrgent
}

// drop takes q out of the queue it is in.
func (p *readPacer) drop(q *pacedRead) {
	if q.urgent {
		p.nUrgent--
	} else {
		heap.Remove(&p.drift, q.index)
	}
	delete(p.lanes, q.uid)
}

// forget drops uid (its Application is gone or no longer settled).
func (p *readPacer) forget(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.granted, uid)
	if q, ok := p.lanes[uid]; ok {
		p.drop(q)
	}
}

// close stops the pacer with its host.
func (p *readPacer) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
	}
}

// arm sets the timer for the next grant: the next token for an urgent
// read, else the later of the first drift read's due time and the token it
// needs above the headroom.
func (p *readPacer) arm(now time.Time) {
	if p.closed {
		return
	}
	var at time.Time
	switch {
	case p.urgentLen() > 0:
		at = p.tokensAt(now, 1)
	case p.drift.Len() > 0:
		at = p.tokensAt(now, 1+p.headroom)
		if d := p.drift[0].due; d.After(at) {
			at = d
		}
	default:
		return
	}
	d := max(at.Sub(now), 10*time.Millisecond)
	if p.timer == nil {
		p.timer = time.AfterFunc(d, p.fire)
		return
	}
	p.timer.Reset(d)
}

// tokensAt is when the bucket will hold n tokens.
func (p *readPacer) tokensAt(now time.Time, n float64) time.Time {
	have := p.limiter.TokensAt(now)
	if have >= n {
		return now
	}
	return now.Add(time.Duration((n - have) / float64(p.limiter.Limit()) * float64(time.Second)))
}

// fire grants what the budget allows now and wakes those Applications.
func (p *readPacer) fire() {
	p.mu.Lock()
	now := p.now()
	var wake []types.NamespacedName
	for !p.closed {
		q := p.next(now)
		if q == nil {
			break
		}
		p.limiter.AllowN(now, 1)
		if q.urgent {
			p.nUrgent--
		}
		delete(p.lanes, q.uid)
		p.granted[q.uid] = struct{}{}
		wake = append(wake, q.key)
	}
	p.arm(now)
	p.mu.Unlock()
	for _, k := range wake {
		p.wake(k)
	}
}

// next takes the read to grant now, if the budget has a token for it.
func (p *readPacer) next(now time.Time) *pacedRead {
	tokens := p.limiter.TokensAt(now)
	if p.urgentLen() > 0 {
		if tokens < 1 {
			return nil
		}
		q := p.urgent[0]
		p.urgent[0] = nil
		p.urgent = p.urgent[1:]
		return q
	}
	if p.drift.Len() == 0 || p.drift[0].due.After(now) || tokens < 1+p.headroom {
		return nil
	}
	return heap.Pop(&p.drift).(*pacedRead)
}

// driftQueue is a min-heap of drift reads by due time.
type driftQueue []*pacedRead

func (d driftQueue) Len() int { return len(d) }
func (d driftQueue) Less(i, j int) bool {
	return d[i].due.Before(d[j].due)
}
func (d driftQueue) Swap(i, j int) {
	d[i], d[j] = d[j], d[i]
	d[i].index, d[j].index = i, j
}
func (d *driftQueue) Push(x any) {
	q := x.(*pacedRead)
	q.index = len(*d)
	*d = append(*d, q)
}
func (d *driftQueue) Pop() any {
	old := *d
	q := old[len(old)-1]
	old[len(old)-1] = nil
	*d = old[:len(old)-1]
	q.index = -1
	return q
}
