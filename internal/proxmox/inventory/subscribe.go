package inventory

import "sync"

// Subscribe returns a channel of container change events and a cancel
// function that stops delivery and closes the channel. Delivery never blocks
// a refresh and never drops an event: undelivered events queue per
// subscriber, merged per VMID, so the queue is bounded by the number of
// containers (one event per VMID may additionally be on its way to the
// channel, so a VMID's changes can arrive split over two events). The
// channel suits controller-runtime's source.Channel after mapping a VMID to
// the objects to reconcile.
func (inv *Inventory) Subscribe() (<-chan Event, func()) {
	s := &subscriber{
		pending: map[int]Change{},
		wake:    make(chan struct{}, 1),
		out:     make(chan Event),
		done:    make(chan struct{}),
	}
	inv.subMu.Lock()
	inv.subs[s] = struct{}{}
	inv.subMu.Unlock()
	go s.deliver()
	var once sync.Once
	return s.out, func() {
		once.Do(func() {
			inv.subMu.Lock()
			delete(inv.subs, s)
			inv.subMu.Unlock()
			close(s.done)
		})
	}
}

func (inv *Inventory) publish(events []Event) {
	if len(events) == 0 {
		return
	}
	inv.subMu.Lock()
	defer inv.subMu.Unlock()
	for s := range inv.subs {
		s.enqueue(events)
	}
}

type subscriber struct {
	mu      sync.Mutex
	pending map[int]Change
	order   []int
	wake    chan struct{}
	out     chan Event
	done    chan struct{}
}

func (s *subscriber) enqueue(events []Event) {
	s.mu.Lock()
	for _, e := range events {
		if ch, ok := s.pending[e.VMID]; ok {
			s.pending[e.VMID] = ch | e.Change
			continue
		}
		s.pending[e.VMID] = e.Change
		s.order = append(s.order, e.VMID)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) next() (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) == 0 {
		return Event{}, false
	}
	vmid := s.order[0]
	s.order = s.order[1:]
	ch := s.pending[vmid]
	delete(s.pending, vmid)
	return Event{VMID: vmid, Change: ch}, true
}

func (s *subscriber) deliver() {
	defer close(s.out)
	for {
		ev, ok := s.next()
		if !ok {
			select {
			case <-s.wake:
				continue
			case <-s.done:
				return
			}
		}
		select {
		case s.out <- ev:
		case <-s.done:
			return
		}
	}
}
